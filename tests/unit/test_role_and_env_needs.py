"""Each function gets only the variables it reads, and each role only actions its code calls.

The variables: each function's own config loader (the one its handler runs first) reads the
environment the program declares for it, through a mapping that records every name looked up.
The actions: every AWS operation a role may call must appear as a boto3 call (or a reference to
the client method, or its name for a paginator) in the code that
runs with that role, unless AWS or another program calls it with the role's credentials (the
reason is written next to each such action below).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from components.base import REPO_ROOT
from components.lambdas.packaging import archive_files
from functions.shared.lambda_support import env_reader
from tools.plan.mocks import Plan, reveal

PlanFor = Callable[[str], Plan]
REPO = REPO_ROOT
FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

# The code that runs with each role: on a node the agent's package; in a function, what its zip
# carries (its folder and the shared modules the packager ships with it, node_agent's among them).
ROLE_CODE = {
    "coordinator": "node_agent",
    "worker": "node_agent",
    "failover": "functions/failover",
    "worker-health": "functions/worker_health",
    "scale-in": "functions/scale_in",
}
# Actions made with a role's credentials by something other than our Python code.
CALLED_FOR_US = {
    "kms:Decrypt": "Secrets Manager, when our code reads a secret encrypted with the cluster's key",
    "logs:CreateLogStream": "the CloudWatch agent (nodes) or the Lambda runtime (functions)",
    "logs:PutLogEvents": "the CloudWatch agent (nodes) or the Lambda runtime (functions)",
    "logs:DescribeLogStreams": "the CloudWatch agent",
    "ssm:UpdateInstanceInformation": "the SSM agent (Session Manager instead of SSH)",
    "ssmmessages:CreateControlChannel": "the SSM agent",
    "ssmmessages:CreateDataChannel": "the SSM agent",
    "ssmmessages:OpenControlChannel": "the SSM agent",
    "ssmmessages:OpenDataChannel": "the SSM agent",
    "ec2:CreateNetworkInterface": "Lambda, for the function's interface in the VPC",
    "ec2:DeleteNetworkInterface": "Lambda",
    "ec2:AssignPrivateIpAddresses": "Lambda",
    "ec2:UnassignPrivateIpAddresses": "Lambda",
    "ec2:DescribeSubnets": "Lambda",
    "ec2:DescribeNetworkInterfaces": "Lambda (the failover and worker-health functions also call it)",
}
CALLED_BY_TRINO = ("s3:", "glue:")  # the Hive connector and its Glue metastore
# SigV4-signed HTTP requests of the query log's store client (node_agent/querylog/store/opensearch.py),
# authorized by data-plane actions that name no boto3 operation.
DATA_PLANE = ("es:ESHttp", "aoss:")


class RecordingEnviron(dict[str, str]):
    """The function's environment, remembering every variable the config loader looks up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def variables_read(label: str, environment: dict[str, str]) -> set[str]:
    """Run every config loader the function's handler runs (failover: its own and the switchover's)."""
    loaders: list[Callable[[Any], object]]
    if label == "coordinators-failover":
        from functions.failover.switchover import SwitchoverConfig
        from functions.failover.watch import FailoverConfig

        loaders = [FailoverConfig.from_env, SwitchoverConfig.from_env]
    elif label == "workers-scale-in":
        from functions.scale_in.handler import ScaleInConfig

        loaders = [ScaleInConfig.from_env]
    else:
        from functions.worker_health.run import WorkerHealthConfig

        loaders = [WorkerHealthConfig.from_env]
    recording = RecordingEnviron({k: str(v) for k, v in environment.items()})
    for loader in loaders:
        loader(env_reader(recording))
    return recording.read


@pytest.mark.parametrize("config", ["dev", "prod"])
@pytest.mark.parametrize("label", ["coordinators-failover", "workers-health", "workers-scale-in"])
def test_each_function_gets_only_the_variables_it_reads(plan_for: PlanFor, config: str, label: str) -> None:
    plan = plan_for(config)
    declared = plan.named(f"{plan.settings.name}-{label}", FUNCTION).inputs["environment"]["variables"]
    assert set(declared) - variables_read(label, declared) == set()


def granted_actions(plan: Plan, job: str) -> set[str]:
    policy = plan.named(f"{plan.settings.name}-identity-{job}", ROLE_POLICY)
    statements = json.loads(reveal(policy.inputs["policy"]))["Statement"]
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def code_of(job: str) -> str:
    folder = ROLE_CODE[job]
    if folder.startswith("functions/"):
        files = [
            path for path in archive_files(folder.removeprefix("functions/")).values() if path.suffix == ".py"
        ]
    else:
        files = sorted((REPO / folder).rglob("*.py"))
    return "\n".join(path.read_text() for path in files)


def snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


@pytest.mark.parametrize("config", ["prod", "dev-glue-spot"])
@pytest.mark.parametrize("job", list(ROLE_CODE))
def test_every_granted_action_is_called_by_the_roles_code(plan_for: PlanFor, config: str, job: str) -> None:
    code = code_of(job)
    uncalled = sorted(
        action
        for action in granted_actions(plan_for(config), job)
        if action not in CALLED_FOR_US
        and not action.startswith(CALLED_BY_TRINO + DATA_PLANE)
        and not re.search(rf"[.\"']{snake(action.split(':')[1])}\b", code)
    )
    assert uncalled == []
