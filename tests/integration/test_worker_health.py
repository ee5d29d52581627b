"""Worker health against a real Trino cluster (476 and 483) and the stack's worker group in moto.

The run reads the real coordinator's system.runtime.nodes. Two seams stand where the local setup
differs from AWS, and only there: the address resolver of TrinoClients maps the coordinator ENI's
moto address to the local coordinator's URL, and the node list is renamed from the local nodes'
ids to the moto worker instance ids they play (on EC2 a node's id is its instance id).
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any

import pytest

from functions.shared.lambda_support import EnvReader, TrinoAccess, TrinoClients
from node_agent.contract import TAG_HEALTH_MISSES
from node_agent.trino.admin import TrinoAdmin
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.trino import TrinoCluster

pytestmark = pytest.mark.integration


def worker_health_run() -> ModuleType:
    """The function's module, imported from the zip's import root (the repository's)."""
    return importlib.import_module("functions.worker_health.run")


def health(moto: MotoServer, group: str) -> dict[str, str]:
    answer = moto.boto3_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i["HealthStatus"] for i in answer["AutoScalingGroups"][0]["Instances"]}


def miss_counts(moto: MotoServer, instance_ids: list[str]) -> dict[str, str]:
    answer = moto.boto3_client("ec2").describe_instances(InstanceIds=instance_ids)
    return {
        i["InstanceId"]: t["Value"]
        for r in answer["Reservations"]
        for i in r["Instances"]
        for t in i.get("Tags", [])
        if t["Key"] == TAG_HEALTH_MISSES
    }


def wait_until_not_active(cluster: TrinoCluster, node_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while node_id in cluster.active_worker_ids():
        if time.monotonic() > deadline:
            raise AssertionError(f"the coordinator still lists {node_id} as active after {timeout}s")
        time.sleep(1)


def test_a_worker_whose_trino_is_killed_is_marked_unhealthy_after_three_checks(
    each_trino: TrinoCluster, moto_server: MotoServer
) -> None:
    module = worker_health_run()
    moto_server.reset()
    resources: ClusterResources = moto_server.create_cluster_resources(workers=3)
    doomed = each_trino.add_worker()  # the shared cluster's own workers stay up for other tests
    others = [w for w in each_trino.workers if w.running() and w is not doomed][:2]
    local_workers = [*others, doomed]
    instance_of = dict(zip([w.node_id for w in local_workers], resources.worker_instance_ids, strict=True))
    doomed_instance = instance_of[doomed.node_id]
    healthy_instances = [i for i in resources.worker_instance_ids if i != doomed_instance]

    def renamed_view(admin: TrinoAdmin) -> Any:
        real = module.coordinator_view(admin)  # the real query against the real coordinator
        return type(real)({instance_of.get(node, node): state for node, state in real.states.items()})

    environ = {
        "CLUSTER": resources.cluster,
        "WORKER_ASG_NAME": resources.worker_asg_name,
        "COORDINATOR_ENI_ID": resources.coordinator_eni_id,
        "GRACE_PERIOD_SECONDS": "0",  # moto's instances were launched a moment ago
    }
    config = module.WorkerHealthConfig.from_env(EnvReader(environ))
    trino = TrinoClients(
        TrinoAccess(timeout_seconds=10.0),
        resolve_url=lambda ip: each_trino.coordinator.url if ip == resources.coordinator_address else ip,
    )

    def check() -> Any:
        return module.WorkerHealthRun(
            config,
            ec2=moto_server.boto3_client("ec2"),
            autoscaling=moto_server.boto3_client("autoscaling"),
            cloudwatch=moto_server.boto3_client("cloudwatch"),
            admin_for=trino.admin,
            read_view=renamed_view,
        ).run()

    try:
        assert check().marked == []  # all three answer: nothing counted
        assert miss_counts(moto_server, resources.worker_instance_ids) == {}

        doomed.kill()
        wait_until_not_active(each_trino, doomed.node_id)
        assert check().marked == []
        assert check().marked == []
        assert miss_counts(moto_server, resources.worker_instance_ids) == {doomed_instance: "2"}
        assert check().marked == [doomed_instance]

        assert health(moto_server, resources.worker_asg_name) == {
            doomed_instance: "Unhealthy",
            **dict.fromkeys(healthy_instances, "Healthy"),
        }
        assert set(miss_counts(moto_server, resources.worker_instance_ids)) == {doomed_instance}
    finally:
        doomed.kill()
        each_trino.workers.remove(doomed)
