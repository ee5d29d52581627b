"""Coordinator failover against two real Trino 476 coordinators and the stack's resources in moto.

The failover handler runs unchanged: its AWS calls go to moto server, its probes go to real
Trino. moto's instances have private addresses but no machines behind them, so the one seam is
the address resolver of TrinoClients: it maps each moto coordinator's private IP to the URL of
the local Trino coordinator that plays that instance. Everything else (probing /v1/info and
planning a query, counting failed probes, re-describing and moving the ENI, SetInstanceHealth,
the metric) is the production path.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from functions.shared.lambda_support import TrinoAccess, TrinoClients
from harness.moto import ClusterResources, MotoServer
from harness.trino import TrinoCluster, TrinoFactory
from node_agent.contract import CLOUDWATCH_NAMESPACE, Metric

pytestmark = pytest.mark.integration

FAILOVER_DIR = Path(__file__).resolve().parents[2] / "functions" / "failover"


def load_failover_handler() -> ModuleType:
    """The handler as Lambda loads it: its folder is the import root (see the zip layout)."""
    if str(FAILOVER_DIR) not in sys.path:
        sys.path.insert(0, str(FAILOVER_DIR))
    spec = importlib.util.spec_from_file_location("failover_handler", FAILOVER_DIR / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContextStandIn:
    """Lambda's context object, reduced to the remaining-time clock the function reads."""

    def __init__(self, timeout_seconds: float = 90.0) -> None:
        self.deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


@pytest.fixture(scope="module")
def coordinator_pair(trino_factory: TrinoFactory) -> Iterator[tuple[TrinoCluster, TrinoCluster]]:
    """Two lone coordinators (include-coordinator, no workers), as a standby has before failover."""
    first = trino_factory.start_cluster(workers=0, include_coordinator=True, wait=False)
    second = trino_factory.start_cluster(workers=0, include_coordinator=True, wait=False)
    try:
        for cluster in (first, second):
            trino_factory.wait_ready(cluster, expected_workers=0, timeout=240)
        yield first, second
    finally:
        first.stop(timeout=10)
        second.stop(timeout=10)


def private_ip(moto: MotoServer, instance_id: str) -> str:
    answer = moto.boto3_client("ec2").describe_instances(InstanceIds=[instance_id])
    return str(answer["Reservations"][0]["Instances"][0]["PrivateIpAddress"])


def eni_holder(moto: MotoServer, eni_id: str) -> str | None:
    eni = moto.boto3_client("ec2").describe_network_interfaces(NetworkInterfaceIds=[eni_id])
    return (eni["NetworkInterfaces"][0].get("Attachment") or {}).get("InstanceId")


def group_health(moto: MotoServer, group: str) -> dict[str, str]:
    answer = moto.boto3_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i["HealthStatus"] for i in answer["AutoScalingGroups"][0]["Instances"]}


def environment(resources: ClusterResources, **overrides: str) -> dict[str, str]:
    """The function's environment as the stack sets it; defaults for every probe setting."""
    env = {
        "CLUSTER": resources.cluster,
        "COORDINATOR_ENI_ID": resources.coordinator_eni_id,
        "COORDINATOR_ASG_NAME": resources.coordinator_asg_name,
        "GRACE_PERIOD_SECONDS": "0",
    }
    env.update(overrides)
    return env


def test_the_eni_moves_once_to_the_standby_when_the_active_coordinators_trino_dies(
    coordinator_pair: tuple[TrinoCluster, TrinoCluster],
    moto_server: MotoServer,
    aws_cluster: ClusterResources,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two invocations watch at once (a run that outlived its minute and the next one), as in
    production; both see the same failures, and the ENI still moves exactly once."""
    failover = load_failover_handler()
    instances = sorted(aws_cluster.coordinator_instance_ids)
    trino_of = dict(zip(instances, coordinator_pair, strict=True))
    url_of_ip = {private_ip(moto_server, iid): trino_of[iid].url for iid in instances}
    trino = TrinoClients(TrinoAccess(timeout_seconds=3.0), resolve_url=lambda ip: url_of_ip[ip])

    def invoke(rule: str, **env: str) -> dict[str, Any]:
        clients = {
            s: moto_server.boto3_client(s) for s in ("ec2", "autoscaling", "cloudwatch", "secretsmanager")
        }
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "resources": [rule]}
        return dict(
            failover.handler(
                event,
                LambdaContextStandIn(),
                environ=environment(aws_cluster, **env),
                clients=clients,
                trino=trino,
            )
        )

    # The stack creates the ENI unattached: the first run gives it to a healthy coordinator.
    assert invoke("first-run", PROBE_WINDOW_SECONDS="0")["outcome"] == "attached"
    active = eni_holder(moto_server, aws_cluster.coordinator_eni_id)
    assert active in instances
    (standby,) = set(instances) - {active}

    # Two runs with the default probe settings watch the holder; its Trino dies mid-run.
    outcomes: dict[str, dict[str, Any]] = {}
    watches = [
        threading.Thread(target=lambda rule=rule: outcomes.update({rule: invoke(rule)}))
        for rule in ("one", "two")
    ]
    for watch in watches:
        watch.start()
    time.sleep(7)  # a couple of healthy rounds first
    trino_of[active].coordinator.kill()
    died = time.monotonic()
    moved = None
    while moved is None and any(w.is_alive() for w in watches):
        if eni_holder(moto_server, aws_cluster.coordinator_eni_id) == standby:
            moved = time.monotonic()
        time.sleep(0.2)
    for watch in watches:
        watch.join(timeout=120)

    assert sorted(o["outcome"] for o in outcomes.values()).count("moved") == 1, outcomes
    assert eni_holder(moto_server, aws_cluster.coordinator_eni_id) == standby
    assert group_health(moto_server, aws_cluster.coordinator_asg_name) == {
        active: "Unhealthy",
        standby: "Healthy",
    }
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (move,) = [r for r in lines if r["decision"] == "moved"]
    assert (move["holder"], move["target"], move["failures"]) == (active, standby, 3)
    failing = [
        r["failures"] for r in lines if r["decision"] == "holder_failing" and r["trigger"] == move["trigger"]
    ]
    assert failing[:2] == [1, 2]  # three failed probes in a row, over UNRESPONSIVE_SECONDS, moved it
    assert failover_count(moto_server, aws_cluster.cluster) == 2.0  # the first attach and this move
    seconds = (moved or time.monotonic()) - died
    print(f"failover: coordinator death -> ENI on the standby in {seconds:.1f} s; outcomes {outcomes}")


def failover_count(moto: MotoServer, cluster: str) -> float:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    answer = moto.boto3_client("cloudwatch").get_metric_statistics(
        Namespace=CLOUDWATCH_NAMESPACE,
        MetricName=Metric.COORDINATOR_FAILOVERS.value,
        Dimensions=[{"Name": "Cluster", "Value": cluster}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=7200,
        Statistics=["Sum"],
    )
    return float(sum(p["Sum"] for p in answer["Datapoints"]))
