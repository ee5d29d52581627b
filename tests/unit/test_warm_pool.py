"""`workerWarmPool`: stopped, pre-initialised workers beside the group, a fixed number of them,
and only where AWS allows a warm pool (one instance type, on demand)."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
from moto import mock_aws

from components.settings.parse import parse
from tests.unit.stack_config import only, raw_with
from tools.plan.aws_check.check import validate
from tools.plan.aws_check.shape import Request
from tools.plan.aws_check.table import requests_of
from tools.plan.cluster import scale_out
from tools.plan.mocks import Plan

PlanFor = Callable[..., Plan]
ONE_TYPE = {"workerInstanceTypes": json.dumps(["r6i.2xlarge"]), "workerMaxSize": "10"}


def worker_group(plan: Plan) -> dict[str, object]:
    (group,) = [g for g in plan.of_type("aws:autoscaling/group:Group") if "worker" in g.name]
    return group.inputs


def test_no_warm_pool_unless_asked(plan_for: PlanFor) -> None:
    assert "warmPool" not in worker_group(plan_for("prod"))
    assert parse("test", raw_with({})).workers.warm_pool == 0


def test_the_pool_keeps_exactly_the_asked_number_of_stopped_workers(plan_for: PlanFor) -> None:
    # Prepared capacity = minimum: AWS's default would keep max - desired stopped instances.
    pool = worker_group(plan_for("prod-plain"))["warmPool"]
    assert pool == {"poolState": "Stopped", "minSize": 2, "maxGroupPreparedCapacity": 2}


def test_a_worker_scaled_in_is_never_returned_to_the_pool(plan_for: PlanFor) -> None:
    # Its drain record keeps trino.service down for good: a returned worker would never serve.
    assert "instanceReusePolicy" not in worker_group(plan_for("prod-plain"))["warmPool"]


def test_the_pool_is_put_with_a_request_aws_accepts(plan_for: PlanFor) -> None:
    requests, _ = requests_of(plan_for("prod-plain").resources)
    puts = [r for r in requests if r.operation == "PutWarmPool"]
    assert [r.params["MinSize"] for r in puts] == [2]
    assert validate(puts[0]) == []


def test_a_pool_state_aws_does_not_know_is_refused_by_the_model() -> None:
    request = Request(
        "workers", "autoscaling", "PutWarmPool", {"AutoScalingGroupName": "g", "PoolState": "Frozen"}
    )
    assert any("Frozen" in problem for problem in validate(request))


def test_the_plan_says_a_scale_out_starts_a_warmed_worker(plan_for: PlanFor) -> None:
    assert scale_out(plan_for("prod-plain")).endswith(
        "then a start of one of 2 stopped warm-pool workers (no launch, no first boot) and a Trino boot"
    )
    assert scale_out(plan_for("prod")).endswith("then an EC2 launch and a Trino boot")


def test_a_warm_pool_of_spot_workers_is_refused_naming_the_key() -> None:
    message = only({**ONE_TYPE, "workerWarmPool": "2", "workerSpotPercentage": "50"})
    assert message.startswith("presto-on-aws:workerWarmPool: a warm pool needs one instance type on demand")
    assert "workerSpotPercentage 50" in message


def test_a_warm_pool_of_several_instance_types_is_refused_naming_the_key() -> None:
    message = only({"workerInstanceTypes": json.dumps(["r6i.2xlarge", "r5.2xlarge"]), "workerWarmPool": "1"})
    assert message.startswith("presto-on-aws:workerWarmPool:")
    assert "2 workerInstanceTypes" in message


def test_a_warm_pool_larger_than_the_fleet_is_refused() -> None:
    message = only({**ONE_TYPE, "workerWarmPool": "11"})
    assert message == "presto-on-aws:workerWarmPool: 11 is greater than workerMaxSize 10"


def test_a_negative_warm_pool_is_refused() -> None:
    assert only({**ONE_TYPE, "workerWarmPool": "-1"}).startswith("presto-on-aws:workerWarmPool:")


def test_a_warm_pool_as_large_as_the_largest_fleet_parses() -> None:
    raw = raw_with({**ONE_TYPE, "workerMaxSize": "1000", "workerWarmPool": "1000"})
    assert parse("test", raw).workers.warm_pool == 1000


def test_the_planned_pool_is_what_the_group_reports_after_put_warm_pool(plan_for: PlanFor) -> None:
    # The request `make plan` checks, sent to moto's Auto Scaling: what DescribeWarmPool gives back.
    requests, _ = requests_of(plan_for("prod-plain").resources)
    (create,) = [r for r in requests if r.operation == "CreateAutoScalingGroup" and "worker" in r.resource]
    (put,) = [r for r in requests if r.operation == "PutWarmPool"]
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        template = ec2.create_launch_template(
            LaunchTemplateName="workers",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "r6i.4xlarge"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        autoscaling = boto3.client("autoscaling", region_name="eu-west-1")
        group = create.params["AutoScalingGroupName"]
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=group,
            MinSize=0,
            MaxSize=int(create.params["MaxSize"]),
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            VPCZoneIdentifier=subnet,
        )
        autoscaling.put_warm_pool(**{k: int(v) if isinstance(v, float) else v for k, v in put.params.items()})
        pool = autoscaling.describe_warm_pool(AutoScalingGroupName=group)["WarmPoolConfiguration"]
    assert (pool["MinSize"], pool["MaxGroupPreparedCapacity"], pool["PoolState"]) == (2, 2, "Stopped")
