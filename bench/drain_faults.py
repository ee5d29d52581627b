"""The lifecycle agent under the faults of issue 12, in simulated time (moto, FakeImds, a fake clock).

1. Refused shutdown: Trino answers 403 to every PUT for an hour of one-second steps. Prints how
   many shutdown requests the agent sent (it used to send one a second: 3,601) and the heartbeats.
2. IMDS outage: IMDS answers 503 for 10 minutes mid-drain, against a 300 s hook heartbeat timeout.
   Prints the longest gap between heartbeats (it used to be 660 s: the group would have ended the
   drain).

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

from components.base import REPO_ROOT

ROOT = REPO_ROOT
REGION = "us-east-1"
HOOK = "bench-drain"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def run(fault: str) -> None:
    import boto3

    from node_agent.imds import Imds
    from node_agent.lifecycle.command import LifecycleAgent, LifecycleConfig
    from node_agent.lifecycle.drain_state import StateStore
    from node_agent.trino.admin import TrinoError
    from tools.harness.fakes import FakeImds, FakeTrinoNode, StandInLifecycleApi, instance_metadata

    autoscaling = boto3.client("autoscaling", region_name=REGION)
    boto3.client("ec2", region_name=REGION).create_launch_template(
        LaunchTemplateName=f"lt-{fault}",
        LaunchTemplateData={"ImageId": "ami-0123456789abcdef0", "InstanceType": "m6i.xlarge"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"g-{fault}",
        LaunchTemplate={"LaunchTemplateName": f"lt-{fault}", "Version": "$Latest"},
        MinSize=1,
        MaxSize=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[f"g-{fault}"])
    instance_id = groups["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    api = StandInLifecycleApi()
    clock = Clock()
    api.observe = clock
    imds = FakeImds(instance_metadata(instance_id))
    trino = FakeTrinoNode()
    with TemporaryDirectory() as state:
        agent = LifecycleAgent(
            config=LifecycleConfig("bench", instance_id, HOOK, max_drain_seconds=7200),
            imds=Imds(imds.url),
            autoscaling=api.attach(autoscaling),
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            trino=trino,
            trino_running=lambda: True,
            store=StateStore(Path(state) / "lifecycle.json"),
            clock=clock,
            out=io.StringIO(),
        )
        imds.set("autoscaling/target-lifecycle-state", "Terminated")
        if fault == "refused":
            trino.refusal = TrinoError("PUT /v1/info/state: HTTP 403: Forbidden", status=403)
            seconds = 3600
        else:
            agent.step()
            clock.now += 1
            imds.outage = 503
            seconds = 600
        started = clock.now
        for _ in range(seconds):
            agent.step()
            clock.now += 1
        imds.outage = None
        agent.step()
        imds.stop()
    beats = [float(c.observed) for c in api.heartbeats()]  # type: ignore[arg-type]
    if fault == "refused":
        print(f"refused shutdown, 1 h: {trino.shutdown_attempts} shutdown requests, {len(beats)} heartbeats")
    else:
        inside = [started - 1, *[b for b in beats if b >= started - 1], clock.now]
        gap = max(b - a for a, b in itertools.pairwise(inside))
        print(f"IMDS outage, 10 min: longest heartbeat gap {gap:.0f} s (hook timeout 300 s)")


def main() -> int:
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    from moto import mock_aws

    with mock_aws():
        run("refused")
        run("imds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
