"""The worker group's custom termination policy as the program declares it (functions/scale_in).

Auto Scaling asks the function first and orders by its default policy whatever the function
leaves to it; only Auto Scaling's service-linked role may invoke it; it runs on no schedule, and
its role may do nothing in AWS beyond its logs, its place in the VPC and reading the password it
asks the coordinator with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from functions.scale_in.handler import ScaleInConfig
from functions.shared.lambda_support import env_reader
from tools.plan.mocks import Plan, reveal

PlanFor = Callable[[str], Plan]
GROUP = "aws:autoscaling/group:Group"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
AUTOSCALING_ROLE = (
    "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
)


def scale_in_function(plan: Plan) -> Any:
    return plan.named(f"{plan.settings.name}-workers-scale-in", FUNCTION)


def test_the_worker_group_asks_the_scale_in_function_first_then_the_default_policy(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    workers = plan.named(f"{plan.settings.name}-workers", GROUP)
    policies = [reveal(p) for p in workers.inputs["terminationPolicies"]]
    assert policies == [
        f"arn:aws:lambda:eu-west-1:123456789012:function:{scale_in_function(plan).name}",
        "Default",
    ]


def test_only_auto_scalings_service_linked_role_may_invoke_the_scale_in_function(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    permission = plan.named(f"{plan.settings.name}-workers-scale-in", PERMISSION)
    assert permission.inputs["principal"] == AUTOSCALING_ROLE
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert "sourceArn" not in permission.inputs  # the role is the caller; no event source to name


def test_the_worker_group_is_created_only_once_auto_scaling_may_invoke_its_termination_policy(
    plan_for: PlanFor,
) -> None:
    plan = plan_for("prod")
    permission = plan.named(f"{plan.settings.name}-workers-scale-in", PERMISSION)
    assert permission.urn in plan.named(f"{plan.settings.name}-workers", GROUP).dependencies


@pytest.mark.parametrize("config", ["dev", "prod"])
def test_the_scale_in_function_runs_on_no_schedule(plan_for: PlanFor, config: str) -> None:
    plan = plan_for(config)
    rules = [r.name for r in plan.of_type("aws:cloudwatch/eventRule:EventRule")]
    assert not [r for r in rules if "scale-in" in r]


def test_the_scale_in_function_asks_the_coordinator_at_its_fixed_address_within_a_short_budget(
    plan_for: PlanFor,
) -> None:
    plan = plan_for("prod")
    variables = {
        k: str(reveal(v)) for k, v in scale_in_function(plan).inputs["environment"]["variables"].items()
    }
    config = ScaleInConfig.from_env(env_reader(variables))
    assert config.coordinator_address == plan.outputs["coordinatorAddress"]
    assert config.trino.timeout_seconds == 2.0
    assert scale_in_function(plan).inputs["timeout"] == 10


def test_the_scale_in_role_may_do_nothing_in_aws_but_log_sit_in_the_vpc_and_read_its_password(
    plan_for: PlanFor,
) -> None:
    plan = plan_for("prod")
    document = json.loads(
        reveal(plan.named("trino-prod-identity-scale-in", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    )
    sids = {s["Sid"] for s in document["Statement"]}
    assert sids == {
        "WriteFunctionLogs",
        "CreateFunctionInterfaces",
        "ManageFunctionInterfaces",
        "ReadClusterSecrets",
    }
    (secrets,) = [s for s in document["Statement"] if s["Sid"] == "ReadClusterSecrets"]
    assert secrets["Action"] == ["secretsmanager:GetSecretValue"]
    assert len(secrets["Resource"]) == 1  # the management password alone
