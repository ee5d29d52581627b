"""The failover function as the harness runs it: loaded as Lambda loads it, against moto server.

Shared by the integration tests and the benches that drive the coordinator pair
(tests/integration/test_failover.py, tests/integration/rollout_rehearsal.py, bench/failover.py),
so each of them runs the same unchanged handler with the same stand-ins for what Lambda and
the VPC provide: the context's remaining-time clock, and the route from a coordinator
instance's private IP to the local Trino that plays it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Mapping
from dataclasses import replace
from types import ModuleType
from typing import Any

from functions.shared.lambda_support import TrinoAccess, TrinoClients
from tools.harness.moto import REGION, ClusterResources, MotoServer

AWS_SERVICES = ("ec2", "autoscaling", "cloudwatch", "secretsmanager")


def load_failover_handler() -> ModuleType:
    """The handler as Lambda reaches it: the zip's import root is the repository's, so the
    function's package imports as it does in the zip (components/lambdas/packaging.py)."""
    return importlib.import_module("functions.failover.handler")


class LambdaContextStandIn:
    """Lambda's context object, reduced to the remaining-time clock the function reads."""

    def __init__(self, timeout_seconds: float = 90.0) -> None:
        self.deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def eni_holder(moto: MotoServer, eni_id: str, region: str = REGION) -> str | None:
    """The instance the coordinator ENI is attached to in moto, or None."""
    eni = moto.boto3_client("ec2", region).describe_network_interfaces(NetworkInterfaceIds=[eni_id])
    return (eni["NetworkInterfaces"][0].get("Attachment") or {}).get("InstanceId")


def private_ip(moto: MotoServer, instance_id: str, region: str = REGION) -> str:
    answer = moto.boto3_client("ec2", region).describe_instances(InstanceIds=[instance_id])
    return str(answer["Reservations"][0]["Instances"][0]["PrivateIpAddress"])


class FailoverFunction:
    """One deployed failover function: the stack's environment, moto's clients, local coordinators.

    `url_of_ip` maps each coordinator instance's private IP to the Trino playing it; a test that
    boots a replacement for an instance updates it.
    """

    def __init__(self, moto: MotoServer, resources: ClusterResources, **environment: str) -> None:
        self.moto, self.resources = moto, resources
        self.handler = load_failover_handler()
        self.url_of_ip: dict[str, str] = {}
        self.trino = TrinoClients(TrinoAccess(timeout_seconds=3.0), resolve_url=lambda ip: self.url_of_ip[ip])
        self.clients: dict[str, Any] = {s: moto.boto3_client(s, resources.region) for s in AWS_SERVICES}
        self.environment = {
            "CLUSTER": resources.cluster,
            "COORDINATOR_ENI_ID": resources.coordinator_eni_id,
            "COORDINATOR_ASG_NAME": resources.coordinator_asg_name,
            # The group replaces coordinators that fail after this long; the harness's have just booted.
            "GRACE_PERIOD_SECONDS": "0",
            **environment,
        }

    def use_shared_secret(self, shared_secret: str) -> None:
        """Deploy the cluster's shared secret as the stack does (Secrets Manager, SHARED_SECRET_ARN):
        the switchover signs Trino's internal discovery calls with it."""
        secrets = self.clients["secretsmanager"]
        name = f"{self.resources.cluster}-shared"
        arn = secrets.create_secret(Name=name, SecretString=shared_secret)["ARN"]
        self.environment["SHARED_SECRET_ARN"] = arn
        access = replace(self.trino.access, shared_secret_arn=arn)
        self.trino = TrinoClients(access, secrets_client=secrets, resolve_url=lambda ip: self.url_of_ip[ip])

    def play(self, instance_id: str, url: str) -> None:
        """The local Trino at `url` now answers for `instance_id`'s private address."""
        self.url_of_ip[private_ip(self.moto, instance_id, self.resources.region)] = url

    def invoke(
        self, event: Mapping[str, Any], *, timeout_seconds: float = 90.0, **environment: str
    ) -> dict[str, Any]:
        environ = {**self.environment, **environment}
        context = LambdaContextStandIn(timeout_seconds)
        return dict(
            self.handler.handler(event, context, environ=environ, clients=self.clients, trino=self.trino)
        )


def scheduled_event(rule: str) -> dict[str, Any]:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "resources": [rule]}


def termination_event(resources: ClusterResources, hook_name: str) -> dict[str, Any]:
    return {
        "source": "aws.autoscaling",
        "detail-type": "EC2 Instance-terminate Lifecycle Action",
        "detail": {"AutoScalingGroupName": resources.coordinator_asg_name, "LifecycleHookName": hook_name},
    }
