"""Why `pulumi up` refuses an `environment` change on a deployed cluster
(components/nodes/incompatible_change.py): a real Trino 476 coordinator refuses a worker of
another node.environment, so such a worker could never join while the workers roll. (The version
half of the refusal is measured by `python -m bench.mixed_versions`: a 475 worker under a 476
coordinator is listed inactive and gets none of a query's tasks.)"""

from __future__ import annotations

import dataclasses
import time

import pytest

from node_agent.contract import Role
from tools.harness.processes import tail_of
from tools.harness.trino import TrinoCluster

pytestmark = pytest.mark.integration

REFUSED = "Environment mismatch. Expected: harness, Provided: elsewhere"
ANNOUNCE_WAIT_SECONDS = 180  # a worker's JVM boot on 2 cores, then its first announcement


def test_a_worker_of_another_environment_is_refused_by_the_coordinators_discovery(
    trino_cluster: TrinoCluster,
) -> None:
    elsewhere = dataclasses.replace(trino_cluster.settings, environment="elsewhere")
    # Not added to the shared cluster's workers: it never becomes one, and it is stopped here.
    stranger = trino_cluster.factory.start_node(trino_cluster, Role.WORKER, settings=elsewhere)
    try:
        deadline = time.monotonic() + ANNOUNCE_WAIT_SECONDS
        while REFUSED not in tail_of(stranger.log_path, 100_000) and time.monotonic() < deadline:
            assert stranger.running(), stranger.log_tail()
            time.sleep(0.5)
        assert REFUSED in tail_of(stranger.log_path, 100_000), stranger.log_tail()
        assert stranger.node_id not in trino_cluster.active_worker_ids()
    finally:
        stranger.stop(10)
