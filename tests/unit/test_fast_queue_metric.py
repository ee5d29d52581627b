"""`scalingFastQueueMetric`: the queue alarm on three 10 s periods of a high-resolution metric
the coordinator publishes every 10 s, instead of two 60 s periods of a 15 s one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.settings.parse import parse
from tests.unit.stack_config import only, raw_with
from tools.plan.aws_check.check import validate
from tools.plan.aws_check.table import requests_of
from tools.plan.cluster import node_settings, scale_out
from tools.plan.mocks import Plan

PlanFor = Callable[..., Plan]


def alarm(plan: Plan, metric: str) -> dict[str, Any]:
    (found,) = [
        a.inputs
        for a in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricName") == metric and "adding workers" in str(a.inputs.get("alarmDescription"))
    ]
    return found


def test_off_by_default_the_queue_alarm_waits_two_minutes(plan_for: PlanFor) -> None:
    queue = alarm(plan_for("dev"), "QueuedQueries")
    assert (queue["period"], queue["evaluationPeriods"]) == (60, 2)
    assert not node_settings(plan_for("dev")).fast_queue_metric
    assert parse("test", raw_with({})).scaling.fast_queue_metric is False


def test_on_the_queue_alarm_takes_three_ten_second_periods(plan_for: PlanFor) -> None:
    queue = alarm(plan_for("dev-fast-queue"), "QueuedQueries")
    assert (queue["period"], queue["evaluationPeriods"]) == (10, 3)


def test_the_memory_alarm_keeps_its_minutes(plan_for: PlanFor) -> None:
    # Only the queue is published at high resolution; a 10 s alarm on a 60 s metric sees no data.
    memory = alarm(plan_for("dev-fast-queue"), "ClusterMemoryReservedPercent")
    assert (memory["period"], memory["evaluationPeriods"]) == (60, 2)


def test_the_nodes_are_told_to_publish_the_queue_every_ten_seconds(plan_for: PlanFor) -> None:
    assert node_settings(plan_for("dev-fast-queue")).fast_queue_metric


def test_a_ten_second_alarm_is_a_request_cloudwatch_accepts(plan_for: PlanFor) -> None:
    requests, _ = requests_of(plan_for("dev-fast-queue").resources)
    alarms = [r for r in requests if r.operation == "PutMetricAlarm" and r.params.get("Period") == 10]
    assert len(alarms) == 1
    assert validate(alarms[0]) == []


def test_the_plan_says_a_scale_out_is_asked_for_within_a_minute(plan_for: PlanFor) -> None:
    assert scale_out(plan_for("dev-fast-queue")).startswith(
        "30-60 s from a queue building up to more workers asked for (3 x 10 s periods above the "
        "threshold, published every 10 s, alarms evaluated every 10 s)"
    )
    assert scale_out(plan_for("dev")).startswith("120-255 s from a queue building up")


def test_a_value_that_is_not_a_boolean_is_refused_naming_the_key() -> None:
    assert only({"scalingFastQueueMetric": "yes"}).startswith("presto-on-aws:scalingFastQueueMetric:")
