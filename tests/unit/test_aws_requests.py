"""Every request the recorded graph implies is one AWS accepts: checked against botocore's
service models (lengths, ranges, enums, patterns) and the documented limits they lack, for the
shipped stacks and for odd ones at the edges of what the parser accepts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping

import pytest

from components.program import build
from components.settings.reader import MAX_CLUSTER_NAME
from components.settings.stack_file import load_stack_settings
from tools.plan.aws_check.check import request_problems, validate
from tools.plan.aws_check.shape import Request
from tools.plan.aws_check.table import requests_of
from tools.plan.mocks import Plan, run_program

TOPICS = [f"arn:aws:sns:eu-west-1:111122223333:oncall-{n}" for n in range(5)]
ODD: dict[str, tuple[str, Mapping[str, object]]] = {
    # The longest accepted names and the largest accepted values.
    "longest": (
        "prod",
        {
            "clusterName": "t" + "x" * (MAX_CLUSTER_NAME - 1),
            "environment": "e" * 60,
            "workerMaxSize": 1000,
            "workerDesiredCapacity": 1000,
            "workerMinSize": 1000,
            "workerOnDemandBaseCapacity": 1000,
            "rootVolumeSizeGb": 16384,
            "rootVolumeType": "io2",
            "rootVolumeIops": 256000,
            "maxDrainMinutes": 2880,
            "lifecycleHeartbeatSeconds": 7200,
            "failedQueriesAlarmThreshold": 100000,
            "scalingStepWorkers": 100,
            "scalingWarmupSeconds": 3600,
            "scalingQueuedQueriesThreshold": 10000,
            "scalingMemoryReservedPercent": 99,
            "workerHealthGraceSeconds": 3600,
            "alarmTopicArns": TOPICS,
            "logRetentionDays": {k: 3653 for k in ("server", "httpRequest", "agent", "syslog", "functions")},
        },
    ),
    # The largest warm pool: one on-demand type (AWS allows no pool beside spot or mixed types).
    "largest-warm-pool": (
        "prod",
        {
            "workerInstanceTypes": ["r6i.2xlarge"],
            "workerSpotPercentage": 0,
            "workerOnDemandBaseCapacity": 0,
            "workerMaxSize": 1000,
            "workerWarmPool": 1000,
        },
    ),
    # The smallest: one coordinator, no workers at rest, the oldest version, no TLS, no query log.
    "smallest": (
        "dev",
        {
            "clusterName": "abc",
            "workerMinSize": 0,
            "workerDesiredCapacity": 0,
            "workerMaxSize": 1,
            "trinoVersion": 330,
            "metastore": "none",
            "hiveMetastoreUri": None,
            "elasticsearchUrl": None,
            "elasticsearchIndexPrefix": None,
            "rootVolumeSizeGb": 20,
            "logRetentionDays": {k: 1 for k in ("server", "httpRequest", "agent", "syslog", "functions")},
        },
    ),
}


@pytest.fixture
def odd_plan(plan_for: Callable[..., Plan]) -> Callable[[str], Plan]:
    return lambda config: plan_for(config, ODD)


def test_every_request_of_the_shipped_and_unit_configs_is_valid(any_plan: Plan) -> None:
    assert request_problems(any_plan.resources) == []


@pytest.mark.parametrize("config", list(ODD))
def test_every_request_of_an_odd_stack_is_valid(odd_plan: Callable[[str], Plan], config: str) -> None:
    assert request_problems(odd_plan(config).resources) == []


def test_every_resource_type_the_program_declares_has_a_request_model(
    odd_plan: Callable[[str], Plan],
) -> None:
    resources = [r for config in ODD for r in odd_plan(config).resources]
    assert requests_of(resources)[1] == []


def test_longest_name_really_reaches_the_failover_rule_limit(odd_plan: Callable[[str], Plan]) -> None:
    names = [
        r.params["Name"] for r in requests_of(odd_plan("longest").resources)[0] if r.operation == "PutRule"
    ]
    assert max(len(n) for n in names) == 64


def test_cluster_name_one_longer_than_accepted_overflows_the_failover_rule_and_target() -> None:
    """Past the parser (settings built directly), so the check itself is what refuses it."""
    settings = dataclasses.replace(load_stack_settings("prod"), name="t" * (MAX_CLUSTER_NAME + 1))
    found = request_problems(run_program("prod", entry=lambda: build(settings)).resources)
    assert any("events.PutRule Name: 65 characters, the model's maximum is 64" in p for p in found)
    assert any("events.PutTargets Targets[0].Id: 65 characters" in p for p in found)


def test_six_alarm_actions_are_refused_by_the_model() -> None:
    settings = load_stack_settings("prod")
    six = [*TOPICS, "arn:aws:sns:eu-west-1:111122223333:extra"]
    settings = dataclasses.replace(
        settings, monitoring=dataclasses.replace(settings.monitoring, alarm_topic_arns=tuple(six))
    )
    found = request_problems(run_program("prod", entry=lambda: build(settings)).resources)
    assert any("PutMetricAlarm AlarmActions: 6 items, the model's maximum is 5" in p for p in found)
    assert all("Actions: 6 items, the model's maximum is 5" in p for p in found)


def test_iops_above_the_ratio_are_refused_by_the_documented_limit() -> None:
    settings = load_stack_settings("prod")
    settings = dataclasses.replace(
        settings, volume=dataclasses.replace(settings.volume, size_gb=10, iops=6000)
    )
    found = request_problems(run_program("prod", entry=lambda: build(settings)).resources)
    assert len(found) == 2 and all(
        "Iops on 10 GiB is 6000, more than 500 IOPS per GiB of a gp3" in p for p in found
    )


def test_model_enum_is_checked() -> None:
    request = Request(
        "r",
        "cloudwatch",
        "PutMetricAlarm",
        {"AlarmName": "a", "EvaluationPeriods": 1, "ComparisonOperator": "Above"},
    )
    assert any("'Above' is not one of" in p for p in validate(request))


def test_model_range_is_checked() -> None:
    request = Request(
        "f", "lambda", "PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": -1}
    )
    assert validate(request) == [
        "f: lambda.PutFunctionConcurrency ReservedConcurrentExecutions: -1, the model's minimum is 0"
    ]


def test_model_pattern_is_checked() -> None:
    request = Request("r", "events", "PutRule", {"Name": "has space"})
    assert any("does not match the pattern" in p for p in validate(request))


def test_model_required_member_is_checked() -> None:
    assert validate(Request("r", "ssm", "PutParameter", {"Name": "/x"})) == [
        "r: ssm.PutParameter params: missing required member Value"
    ]


def test_ssm_value_above_the_tier_is_refused() -> None:
    from tools.plan.aws_check.check import documented_limit_problems

    value = json.dumps({"x": "y" * 9000})
    found = documented_limit_problems(
        [Request("p", "ssm", "PutParameter", {"Name": "/x", "Value": value, "Tier": "Advanced"})]
    )
    assert len(found) == 1 and "more than 8192 bytes in an Advanced-tier SSM parameter value" in found[0]
