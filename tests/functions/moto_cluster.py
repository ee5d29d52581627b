"""Builders and test doubles for the functions' unit tests (all AWS calls go to moto).

- `build_cluster` creates what the stack creates for the functions to act on: a VPC and subnet,
  a coordinator group of N, a worker group of M, and the coordinator ENI attached to the first
  coordinator at the contract's device index.
- `ScriptedProbes` stands in for Trino's answers to the failover probe: moto's instances run no
  Trino, so a test says what each coordinator answers in each round. What a real Trino answers
  is covered by the integration suite.
- `SteppingClock` makes a minute-long watch run instantly: sleeping advances its time.
- `InjectedAwsError` makes one AWS operation fail the way AWS would (AccessDenied, throttling)
  through a botocore event handler, because moto grants everything and never throttles.
- `load_handler` imports a function's handler.py by path, and `unreachable_trino` points every
  Trino client at a closed port, for the tests that go through a function's entry point.
"""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from botocore.exceptions import ClientError

from functions.shared.lambda_support import TrinoAccess, TrinoClients
from node_agent.contract import CLOUDWATCH_NAMESPACE, COORDINATOR_ENI_DEVICE_INDEX, TAG_CLUSTER, TAG_ROLE

CLUSTER = "analytics"
COORDINATOR_GROUP = "analytics-coordinators"
WORKER_GROUP = "analytics-workers"
ENI_ADDRESS = "10.0.1.200"


@dataclass
class AwsClients:
    ec2: Any
    autoscaling: Any
    cloudwatch: Any
    secretsmanager: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "ec2": self.ec2,
            "autoscaling": self.autoscaling,
            "cloudwatch": self.cloudwatch,
            "secretsmanager": self.secretsmanager,
        }


@dataclass
class MotoCluster:
    aws: AwsClients
    subnet_id: str
    eni_id: str
    coordinators: list[str]
    workers: list[str]

    def eni(self) -> dict[str, Any]:
        return self.aws.ec2.describe_network_interfaces(NetworkInterfaceIds=[self.eni_id])[
            "NetworkInterfaces"
        ][0]

    def eni_holder(self) -> str | None:
        return (self.eni().get("Attachment") or {}).get("InstanceId")

    def address_of(self, instance_id: str) -> str:
        answer = self.aws.ec2.describe_instances(InstanceIds=[instance_id])
        return str(answer["Reservations"][0]["Instances"][0]["PrivateIpAddress"])

    def health(self, group: str) -> dict[str, str]:
        answer = self.aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        return {i["InstanceId"]: i["HealthStatus"] for i in answer["AutoScalingGroups"][0]["Instances"]}

    def members(self, group: str) -> list[str]:
        return sorted(self.health(group))

    def address(self, instance_id: str) -> str:
        answer = self.aws.ec2.describe_instances(InstanceIds=[instance_id])
        return str(answer["Reservations"][0]["Instances"][0]["PrivateIpAddress"])

    def replace(self, group: str, instance_id: str) -> str:
        """Do what the group does with an Unhealthy instance: terminate it and launch another."""
        before = set(self.members(group))
        self.aws.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=instance_id, ShouldDecrementDesiredCapacity=False
        )
        (new,) = set(self.members(group)) - (before - {instance_id})
        return str(new)

    def metric_sum(self, metric: str) -> float:
        # moto keeps raw datapoints; GetMetricStatistics over a wide window sums them.
        now = datetime.now(UTC)
        answer = self.aws.cloudwatch.get_metric_statistics(
            Namespace=CLOUDWATCH_NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": "Cluster", "Value": CLUSTER}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
            Period=7200,
            Statistics=["Sum", "SampleCount"],
        )
        return float(sum(p["Sum"] for p in answer["Datapoints"]))


def load_handler(function: str) -> ModuleType:
    """functions/<function>/handler.py, imported as the zip's root shim imports it."""
    return importlib.import_module(f"functions.{function}.handler")


def unreachable_trino() -> TrinoClients:
    """Trino clients that reach every node at a closed port on 127.0.0.1: moto's instance
    addresses are not real, so every node looks down, and fast."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return TrinoClients(
        TrinoAccess(timeout_seconds=1.0), resolve_url=lambda _address: f"http://127.0.0.1:{port}"
    )


def build_cluster(aws: AwsClients, *, coordinators: int = 2, workers: int = 0) -> MotoCluster:
    ec2, autoscaling = aws.ec2, aws.autoscaling
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"][
        "SubnetId"
    ]
    image = "ami-12c6146b"  # one of the images moto ships
    ec2.create_launch_template(
        LaunchTemplateName=f"{CLUSTER}-node",
        LaunchTemplateData={"ImageId": image, "InstanceType": "m6i.xlarge"},
    )
    groups = {}
    for role, name, size in (
        ("coordinator", COORDINATOR_GROUP, coordinators),
        ("worker", WORKER_GROUP, workers),
    ):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{CLUSTER}-node", "Version": "$Latest"},
            MinSize=0,
            MaxSize=max(size, 1) * 2,
            DesiredCapacity=size,
            VPCZoneIdentifier=subnet,
            Tags=[
                {"Key": TAG_CLUSTER, "Value": CLUSTER, "PropagateAtLaunch": True},
                {"Key": TAG_ROLE, "Value": role, "PropagateAtLaunch": True},
            ],
        )
        answer = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        groups[role] = sorted(i["InstanceId"] for i in answer["AutoScalingGroups"][0]["Instances"])
    eni = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress=ENI_ADDRESS)["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    if groups["coordinator"]:
        ec2.attach_network_interface(
            NetworkInterfaceId=eni,
            InstanceId=groups["coordinator"][0],
            DeviceIndex=COORDINATOR_ENI_DEVICE_INDEX,
        )
    return MotoCluster(aws, subnet, eni, groups["coordinator"], groups["worker"])


def function_env(cluster: MotoCluster, **overrides: str) -> dict[str, str]:
    env = {
        "CLUSTER": CLUSTER,
        "COORDINATOR_ENI_ID": cluster.eni_id,
        "COORDINATOR_ASG_NAME": COORDINATOR_GROUP,
        "WORKER_ASG_NAME": WORKER_GROUP,
        "GRACE_PERIOD_SECONDS": "0",
    }
    env.update(overrides)
    return env


class ScriptedProbes:
    """What each coordinator 'answers' per round: "ok", "down" (unreachable) or "starting".

    The last entry repeats, so {"i-a": ["ok", "down"]} means healthy once, then down for good.
    Instances without a script answer "ok". Records every probe as (round, instance id).
    """

    def __init__(self, script: Mapping[str, list[str]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.calls: list[str] = []

    def set(self, instance_id: str, answers: list[str]) -> None:
        self.script[instance_id] = list(answers)
        self.calls = [c for c in self.calls if c != instance_id]

    def __call__(self, instance_id: str, address: str) -> Any:
        from functions.failover.rules import Probe

        answers = self.script.get(instance_id, ["ok"])
        index = min(self.calls.count(instance_id), len(answers) - 1)
        self.calls.append(instance_id)
        answer = answers[index]
        if answer == "ok":
            return Probe(True, "healthy")
        if answer == "starting":
            return Probe(False, "starting")
        return Probe(False, f"unreachable: connection refused ({address})")


@dataclass
class SteppingClock:
    """Monotonic time that only moves when slept on; wall time = start + the same offset."""

    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    elapsed: float = 0.0
    lambda_timeout: float = 90.0

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def remaining(self) -> float:
        return self.lambda_timeout - self.elapsed


class LogLines:
    """Collects the functions' log records (the dicts log_line would print)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, function: str, decision: str, **fields: Any) -> dict[str, Any]:
        record = {"function": function, "decision": decision, **fields}
        json.dumps(record, default=str)  # what log_line prints must be JSON
        self.records.append(record)
        return record

    def decisions(self) -> list[str]:
        return [r["decision"] for r in self.records]

    def of(self, decision: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["decision"] == decision]


class InjectedAwsError:
    """Makes one AWS operation on one client fail with `code` (every time, or the first `times`).

    Stands in for IAM and for AWS throttling, neither of which moto enforces. `fired` tells how
    often it failed a call; `remove()` lets the test look at moto through the same client again.
    """

    def __init__(self, client: Any, operation: str, code: str, *, times: int | None = None) -> None:
        self.client, self.code, self.operation, self.times = client, code, operation, times
        self.fired = 0
        self.event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        client.meta.events.register(self.event, self._fail)

    def _fail(self, **_kwargs: Any) -> None:
        if self.times is not None and self.fired >= self.times:
            return
        self.fired += 1
        raise ClientError({"Error": {"Code": self.code, "Message": f"injected {self.code}"}}, self.operation)

    def remove(self) -> None:
        self.client.meta.events.unregister(self.event, self._fail)
