"""moto in server mode: the AWS APIs the agent and the functions call, on a loopback port.

It runs as its own process (the `moto_server` command), not in a thread of the test process, so
tests that use moto's in-process decorators cannot reset its state by accident.
`create_cluster_resources` declares what the stack would: a VPC and two private subnets, the
coordinator's fixed-address ENI, launch templates with IMDSv2 required, a coordinator group and a
worker group whose termination lifecycle hook holds a worker until its agent says it has drained.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node_agent.contract import TAG_CLUSTER, TAG_ROLE, Role
from tools.harness.ports import free_port
from tools.harness.processes import ManagedProcess

REGION = "us-east-1"
READY_TIMEOUT_SECONDS = 60.0
# moto accepts any non-empty keys; fixed ones keep botocore from looking for real credentials.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoStartError(RuntimeError):
    """moto_server did not start."""


@dataclass(frozen=True)
class ClusterResources:
    """IDs and names of the cluster's AWS resources, as the stack would have created them."""

    cluster: str
    region: str
    vpc_id: str
    subnet_ids: list[str]
    security_group_id: str
    coordinator_eni_id: str
    coordinator_address: str
    coordinator_launch_template_id: str
    worker_launch_template_id: str
    coordinator_asg_name: str
    worker_asg_name: str
    lifecycle_hook_name: str
    coordinator_instance_ids: list[str] = field(default_factory=list)
    worker_instance_ids: list[str] = field(default_factory=list)


class MotoServer:
    """One moto_server process."""

    def __init__(self, base_dir: Path | None = None, *, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        self._own_base = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="presto-on-aws-moto-"))
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        binary = Path(sys.executable).with_name("moto_server")
        command = (
            [str(binary)]
            if binary.is_file()
            else [sys.executable, "-c", "from moto.server import main; main()"]
        )
        self.process = ManagedProcess(
            "moto_server",
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            log_path=self.base_dir / "moto.log",
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.running():
                raise MotoStartError(
                    f"moto_server exited with {self.process.returncode()}:\n{self.process.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.process.stop(5)
        raise MotoStartError(f"moto_server not ready after {timeout}s:\n{self.process.tail()}")

    def boto3_client(self, service: str, region: str = REGION) -> Any:
        import boto3

        return boto3.client(service, region_name=region, endpoint_url=self.endpoint_url, **CREDENTIALS)

    def boto3_session_kwargs(self, region: str = REGION) -> dict[str, str]:
        """What code under test needs to reach this server (endpoint, region, dummy keys)."""
        return {"endpoint_url": self.endpoint_url, "region_name": region, **CREDENTIALS}

    def reset(self) -> None:
        """Forget every resource (moto's reset API), so one test's resources do not leak into the next."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def create_cluster_resources(
        self,
        cluster: str = "harness",
        *,
        region: str = REGION,
        coordinators: int = 2,
        workers: int = 2,
        heartbeat_timeout_seconds: int = 300,
        coordinator_address: str = "10.42.1.10",
    ) -> ClusterResources:
        """Declare the cluster's AWS resources the way the stack does, and return their ids."""
        ec2 = self.boto3_client("ec2", region)
        autoscaling = self.boto3_client("autoscaling", region)

        def tags(kind: str, role: Role | None = None) -> list[dict[str, Any]]:
            values = [{"Key": TAG_CLUSTER, "Value": cluster}, {"Key": "Name", "Value": f"{cluster}-{kind}"}]
            if role is not None:
                values.append({"Key": TAG_ROLE, "Value": role.value})
            return values

        vpc_id = ec2.create_vpc(
            CidrBlock="10.42.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags("vpc")}]
        )["Vpc"]["VpcId"]
        subnet_ids = []
        for index, zone in enumerate(("a", "b"), start=1):
            subnet = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=f"10.42.{index}.0/24",
                AvailabilityZone=f"{region}{zone}",
                TagSpecifications=[{"ResourceType": "subnet", "Tags": tags(f"private-{zone}")}],
            )["Subnet"]
            subnet_ids.append(subnet["SubnetId"])
        group_id = ec2.create_security_group(
            GroupName=f"{cluster}-nodes", Description=f"{cluster} Trino nodes", VpcId=vpc_id
        )["GroupId"]
        eni = ec2.create_network_interface(
            SubnetId=subnet_ids[0],
            PrivateIpAddress=coordinator_address,
            Groups=[group_id],
            Description=f"{cluster} coordinator (moves to the healthy coordinator on failover)",
            TagSpecifications=[
                {"ResourceType": "network-interface", "Tags": tags("coordinator-eni", Role.COORDINATOR)}
            ],
        )["NetworkInterface"]
        image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

        def launch_template(role: Role) -> str:
            data = {
                "ImageId": image_id,
                "InstanceType": "m6i.xlarge",
                "SecurityGroupIds": [group_id],
                "MetadataOptions": {
                    "HttpTokens": "required",
                    "HttpEndpoint": "enabled",
                    "HttpPutResponseHopLimit": 1,
                },
                "BlockDeviceMappings": [
                    {
                        "DeviceName": "/dev/xvda",
                        "Ebs": {"VolumeSize": 50, "VolumeType": "gp3", "Encrypted": True},
                    }
                ],
                "TagSpecifications": [{"ResourceType": "instance", "Tags": tags(role.value, role)}],
            }
            template = ec2.create_launch_template(
                LaunchTemplateName=f"{cluster}-{role.value}", LaunchTemplateData=data
            )
            return str(template["LaunchTemplate"]["LaunchTemplateId"])

        coordinator_template = launch_template(Role.COORDINATOR)
        worker_template = launch_template(Role.WORKER)
        names = {Role.COORDINATOR: f"{cluster}-coordinators", Role.WORKER: f"{cluster}-workers"}
        hook_name = f"{cluster}-worker-drain"
        for role, template, size in (
            (Role.COORDINATOR, coordinator_template, coordinators),
            (Role.WORKER, worker_template, workers),
        ):
            group_tags = [
                {"Key": t["Key"], "Value": t["Value"], "PropagateAtLaunch": True}
                for t in tags(role.value, role)
            ]
            autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=names[role],
                LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
                MinSize=size,
                MaxSize=max(size, 10) if role is Role.WORKER else size,
                DesiredCapacity=size,
                VPCZoneIdentifier=",".join(subnet_ids),
                HealthCheckType="EC2",
                Tags=group_tags,
            )
        autoscaling.put_lifecycle_hook(
            LifecycleHookName=hook_name,
            AutoScalingGroupName=names[Role.WORKER],
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
            HeartbeatTimeout=heartbeat_timeout_seconds,
            DefaultResult="CONTINUE",
        )

        def instances(group: str) -> list[str]:
            described = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
            return [i["InstanceId"] for i in described["AutoScalingGroups"][0]["Instances"]]

        return ClusterResources(
            cluster=cluster,
            region=region,
            vpc_id=vpc_id,
            subnet_ids=subnet_ids,
            security_group_id=group_id,
            coordinator_eni_id=eni["NetworkInterfaceId"],
            coordinator_address=coordinator_address,
            coordinator_launch_template_id=coordinator_template,
            worker_launch_template_id=worker_template,
            coordinator_asg_name=names[Role.COORDINATOR],
            worker_asg_name=names[Role.WORKER],
            lifecycle_hook_name=hook_name,
            coordinator_instance_ids=instances(names[Role.COORDINATOR]),
            worker_instance_ids=instances(names[Role.WORKER]),
        )

    def data(self) -> dict[str, Any]:
        """moto's own view of every resource it holds (its /moto-api/data.json)."""
        with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=10) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> None:
        self.process.stop(10)
        if self._own_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)
