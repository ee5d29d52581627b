"""The failover function against the coordinator pair as it ships: real Trino 476 and 483, moto, an address.

Two coordinators and a worker rendered exactly as a stack renders them
(`node-scheduler.include-coordinator=false`, every `discovery.uri` the coordinator address), the
stack's resources in moto server with the coordinator ENI created unattached, and the unchanged
handler with the stack's probe settings. The address is tools.harness.address.AddressStandIn: it
follows the ENI's attachment in moto, so the workers and the users reach whichever coordinator the
function attached it to, nobody before the first attach, and every connection is reset when it
moves. moto's instances have no machines behind them, so the one other seam is the resolver of
TrinoClients, which maps each coordinator instance's private IP to the local Trino playing it.

The tests share one rig per Trino version and run in order: a first deploy, a pause that must not
move the address, a frozen holder that must, then a killed one. 483 discovers nodes by announcement
(no discovery server), so there the standby learns the workers from the hand-over and their
re-announcements through the moved address.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric
from node_agent.trino.admin import TrinoAdmin
from node_agent.trino.health import probe_coordinator
from tools.harness.coordinator_pair import CoordinatorPair, pause, resume, start_pair
from tools.harness.failover_function import FailoverFunction, eni_holder, scheduled_event
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.versions import SUITE_VERSIONS, TrinoVersions

pytestmark = pytest.mark.integration

# A generous bound for "serves again", not a performance assert: bench/failover.py measures.
SERVING_TIMEOUT = 120.0


@dataclass
class Rig:
    moto: MotoServer
    resources: ClusterResources
    pair: CoordinatorPair
    function: FailoverFunction

    def holder(self) -> str | None:
        return eni_holder(self.moto, self.resources.coordinator_eni_id)

    def invoke(self, rule: str, **env: str) -> dict[str, Any]:
        """One scheduled invocation with the stack's probe settings (overridden only by `env`)."""
        return self.function.invoke(scheduled_event(rule), **env)

    def invoke_in_background(self, rule: str, **env: str) -> tuple[threading.Thread, dict[str, Any]]:
        outcome: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: outcome.update(self.invoke(rule, **env)), daemon=True)
        thread.start()
        return thread, outcome

    def standby(self) -> str:
        (other,) = set(self.pair.coordinators) - {self.holder()}
        return other


@pytest.fixture(scope="module", params=SUITE_VERSIONS, ids=lambda v: f"trino{v}")
def rig(
    request: pytest.FixtureRequest, trino_versions: TrinoVersions, moto_server: MotoServer
) -> Iterator[Rig]:
    """A first deploy: every node boots while the ENI is attached to nothing."""
    trino_factory = trino_versions.factory(request.param)
    moto_server.reset()
    resources = moto_server.create_cluster_resources()
    instances = sorted(resources.coordinator_instance_ids)
    pair = start_pair(
        trino_factory, instances, lambda: eni_holder(moto_server, resources.coordinator_eni_id), workers=1
    )
    try:
        function = FailoverFunction(moto_server, resources)
        # As every stack deploys it: with the shared secret the function keeps the standby warm.
        function.use_shared_secret(pair.secrets.shared_secret)
        for iid in instances:
            function.play(iid, pair.coordinators[iid].url)
        pair.address.follow(function.clients["ec2"])  # the address moves when the call returns
        pair.wait_started([*pair.coordinators.values(), *pair.workers], timeout=600)
        yield Rig(moto_server, resources, pair, function)
    finally:
        pair.stop()


def group_health(moto: MotoServer, group: str) -> dict[str, str]:
    answer = moto.boto3_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i["HealthStatus"] for i in answer["AutoScalingGroups"][0]["Instances"]}


def failover_count(moto: MotoServer, cluster: str) -> float:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    answer = moto.boto3_client("cloudwatch").get_metric_statistics(
        Namespace=CLOUDWATCH_NAMESPACE,
        MetricName=Metric.COORDINATOR_FAILOVERS.value,
        Dimensions=[{"Name": DIMENSION_CLUSTER, "Value": cluster}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=7200,
        Statistics=["Sum"],
    )
    return float(sum(p["Sum"] for p in answer["Datapoints"]))


def log_records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_a_first_deploy_attaches_the_address_and_the_worker_joins_through_it(rig: Rig) -> None:
    """Once every probe planned a query, which no coordinator without workers ever finishes:
    the ENI stayed unattached and the cluster never served."""
    assert rig.holder() is None and not rig.pair.serves(deadline=3)
    outcome = rig.invoke("first-run", PROBE_WINDOW_SECONDS="0")
    attached = time.monotonic()
    assert outcome["outcome"] == "attached", outcome
    holder = rig.pair.coordinators[str(rig.holder())]
    joined = rig.pair.wait_joined(holder, SERVING_TIMEOUT, since=attached)
    seconds = rig.pair.wait_serving(SERVING_TIMEOUT, since=attached)
    print(f"first deploy: address attached -> worker joined {joined:.1f} s, serving a query {seconds:.1f} s")


def test_a_coordinator_with_queued_user_queries_and_no_worker_is_healthy(rig: Rig) -> None:
    """The standby: no worker ever announces to it, so Trino queues every query it is sent;
    the probe runs none and is not held up behind them."""
    standby = rig.pair.coordinators[rig.standby()]
    user = TrinoAdmin(standby.url, user="someone", timeout=5)
    queued = [user.submit("SELECT 1") for _ in range(20)]
    try:
        assert all(page["stats"]["state"] == "QUEUED" for page in queued)
        probe = probe_coordinator(standby.admin(timeout=3))
        assert probe.healthy, probe.reason
    finally:
        for page in queued:
            user.cancel(page["nextUri"])


def test_a_holder_that_pauses_for_twelve_seconds_keeps_the_address(rig: Rig) -> None:
    """A long stop-the-world pause: three probes 5 s apart used to fail in it and move the
    address, dropping every running query of a coordinator that was only slow."""
    holder = rig.holder()
    node = rig.pair.coordinators[str(holder)]
    watch, outcome = rig.invoke_in_background("pause", PROBE_WINDOW_SECONDS="30")
    time.sleep(3)
    pause(node)
    try:
        time.sleep(12)
    finally:
        resume(node)
    watch.join(timeout=120)
    assert outcome["outcome"] == "watched", outcome
    assert rig.holder() == holder
    assert group_health(rig.moto, rig.resources.coordinator_asg_name)[str(holder)] == "Healthy"
    assert rig.pair.serves()


def test_a_frozen_holder_loses_the_address_once_and_the_standby_serves(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGSTOP: the holder's port still accepts and nothing answers. Two invocations watch at once
    (a run that outlived its minute and the next one); the ENI still moves exactly once."""
    capsys.readouterr()
    frozen, standby = str(rig.holder()), rig.standby()
    runs = [rig.invoke_in_background(rule) for rule in ("one", "two")]
    time.sleep(4)
    pause(rig.pair.coordinators[frozen])
    stopped = time.monotonic()
    try:
        while rig.holder() != standby and time.monotonic() - stopped < 90:
            time.sleep(0.2)
        moved = time.monotonic()
        serving = rig.pair.wait_serving(SERVING_TIMEOUT, since=moved)
        for thread, _ in runs:
            thread.join(timeout=120)
    finally:
        resume(rig.pair.coordinators[frozen])
    outcomes = [outcome for _, outcome in runs]
    assert sorted(o["outcome"] for o in outcomes).count("moved") == 1, outcomes
    assert rig.holder() == standby
    assert group_health(rig.moto, rig.resources.coordinator_asg_name)[frozen] == "Unhealthy"
    (move,) = [r for r in log_records(capsys) if r["decision"] == "moved"]
    assert (move["holder"], move["target"]) == (frozen, standby)
    print(
        f"frozen holder: address moved {moved - stopped:.1f} s after SIGSTOP, "
        f"serving again {serving:.1f} s after the move"
    )


def test_a_killed_holder_loses_the_address_and_the_standby_serves(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """The frozen coordinator of the last test, resumed and marked Healthy again, plays the
    replacement the group would launch (a new boot would cost CI a minute for the same path).

    A dead Trino refuses connections (a paused one does not), so the move does not wait out the
    pause allowance: the log line of the move says it was the refusals that decided."""
    killed, standby = str(rig.holder()), rig.standby()
    rig.moto.boto3_client("autoscaling").set_instance_health(InstanceId=standby, HealthStatus="Healthy")
    assert probe_coordinator(rig.pair.coordinators[standby].admin(timeout=10)).healthy
    watch, outcome = rig.invoke_in_background("kill")
    time.sleep(4)
    rig.pair.coordinators[killed].kill()
    died = time.monotonic()
    while rig.holder() != standby and time.monotonic() - died < 90:
        time.sleep(0.2)
    moved = time.monotonic()
    serving = rig.pair.wait_serving(SERVING_TIMEOUT, since=moved)
    watch.join(timeout=120)
    assert outcome["outcome"] == "moved", outcome
    assert rig.holder() == standby
    assert group_health(rig.moto, rig.resources.coordinator_asg_name)[killed] == "Unhealthy"
    assert failover_count(rig.moto, rig.resources.cluster) == 3.0  # the first attach and two moves
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (move,) = [line for line in lines if line.get("decision") == "moved"]
    assert "refused probes in a row" in move["reason"], move
    # The standby had the holder's workers before the crash, so it serves without waiting for them.
    warm = [n for n, line in enumerate(lines) if line.get("decision") == "standby_kept_warm"]
    assert warm and warm[0] < lines.index(move), lines
    print(f"killed holder: address moved {moved - died:.1f} s after SIGKILL, serving {serving:.1f} s later")
