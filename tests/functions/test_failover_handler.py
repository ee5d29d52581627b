"""The failover Lambda entry point: events it must ignore, bad configuration, AWS refusals.

Probes here go to a closed port on 127.0.0.1 (moto's instance addresses are not real), so every
coordinator looks down; what a healthy Trino answers is covered by the integration suite.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functions.moto_cluster import (
    COORDINATOR_GROUP,
    InjectedAwsError,
    MotoCluster,
    build_cluster,
    function_env,
    load_handler,
    unreachable_trino,
)

SCHEDULE = {
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/analytics-failover"],
}


failover = load_handler("failover")


class LambdaContextStandIn:
    """The one method of Lambda's context object the function uses."""

    def __init__(self, remaining_ms: int = 90_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def cluster(aws: Any) -> MotoCluster:
    return build_cluster(aws, coordinators=2)


def invoke(cluster: MotoCluster, event: object, **env: str) -> dict[str, Any]:
    # Fast and count-only: these tests are about events and configuration, not the time rule.
    fast = {
        "PROBE_WINDOW_SECONDS": "0",
        "PROBE_INTERVAL_SECONDS": "0.5",
        "PROBE_TIMEOUT_SECONDS": "1",
        "UNRESPONSIVE_SECONDS": "0",
    }
    environ = function_env(cluster, **{**fast, **env})
    return failover.handler(
        event,
        LambdaContextStandIn(),
        environ=environ,
        clients=cluster.aws.as_dict(),
        trino=unreachable_trino(),
    )


def log_records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_a_scheduled_run_watches_and_logs_json_lines(
    cluster: MotoCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(cluster, SCHEDULE)
    # the closed port refuses: two refusals in a row are a verdict (no Trino runs there), and the
    # open failure streak is followed to it past the window
    assert (result["outcome"], result["rounds"], result["decision"]) == ("watched", 2, "no_healthy_standby")
    records = log_records(capsys)
    assert {r["function"] for r in records} == {"failover"}
    assert [r["decision"] for r in records] == ["holder_failing", "no_healthy_standby", "watch_ended"]
    assert {r["cluster"] for r in records} == {"analytics"}


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
        {"hello": "world"},
        ["not", "an", "object"],
        "a string",
        None,
    ],
    ids=["other-service", "no-source", "list", "string", "null"],
)
def test_an_event_it_does_not_know_is_ignored_without_touching_aws(
    cluster: MotoCluster, event: object, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = InjectedAwsError(cluster.aws.ec2, "DescribeNetworkInterfaces", "AccessDenied")
    assert invoke(cluster, event)["outcome"] == "ignored"
    assert denied.fired == 0
    (record,) = log_records(capsys)
    assert record["decision"] == "ignored_event"


@pytest.mark.parametrize(
    "event",
    [
        {"Event": "autoscaling:TEST_NOTIFICATION", "AutoScalingGroupName": COORDINATOR_GROUP},
        {"Records": [{"Sns": {"Message": json.dumps({"Event": "autoscaling:TEST_NOTIFICATION"})}}]},
    ],
    ids=["direct", "through-sns"],
)
def test_an_auto_scaling_test_notification_is_ignored(cluster: MotoCluster, event: dict[str, Any]) -> None:
    result = invoke(cluster, event)
    assert result == {"outcome": "ignored", "reason": "Auto Scaling test notification"}


def test_an_ec2_state_change_without_an_instance_id_is_ignored(cluster: MotoCluster) -> None:
    event = {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}
    assert invoke(cluster, event)["outcome"] == "ignored"


def test_a_state_change_of_another_clusters_instance_is_ignored(cluster: MotoCluster) -> None:
    event = {
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "detail": {"instance-id": "i-0aaaaaaaaaaaaaaaa", "state": "stopped"},
    }
    result = invoke(cluster, event)
    assert result == {"outcome": "ignored", "reason": "not a coordinator of this cluster"}


def test_a_state_change_of_the_holder_is_acted_on_at_once(cluster: MotoCluster) -> None:
    active, _standby = cluster.coordinators
    cluster.aws.ec2.stop_instances(InstanceIds=[active])
    event = {
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "detail": {"instance-id": active, "state": "stopped"},
    }
    result = invoke(cluster, event)
    # the standby answers nothing here (closed port), so the ENI stays: but the holder was judged
    assert (result["decision"], result["holder"]) == ("no_healthy_standby", active)
    assert cluster.eni_holder() == active


def test_missing_environment_variables_are_all_named(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = failover.handler(SCHEDULE, LambdaContextStandIn(), environ={}, clients={})
    assert result["outcome"] == "misconfigured"
    for name in ("CLUSTER", "COORDINATOR_ENI_ID", "COORDINATOR_ASG_NAME"):
        assert f"{name} is required" in result["reason"]
    assert log_records(capsys)[0]["decision"] == "misconfigured"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FAILED_PROBES", "three", "FAILED_PROBES='three' is not a whole number (1..20)"),
        ("FAILED_PROBES", "0", "FAILED_PROBES=0 is out of range (1..20)"),
        ("PROBE_INTERVAL_SECONDS", "nan", "PROBE_INTERVAL_SECONDS=nan is out of range (0.5..60)"),
        ("TRINO_SCHEME", "ftp", "TRINO_SCHEME='ftp' is not allowed (allowed: http, https)"),
    ],
)
def test_a_bad_setting_is_named_with_what_is_allowed(
    cluster: MotoCluster, name: str, value: str, message: str
) -> None:
    result = invoke(cluster, SCHEDULE, **{name: value})
    assert result["outcome"] == "misconfigured"
    assert message in result["reason"]


def test_access_denied_stops_the_run_with_a_clear_line_and_moves_nothing(
    cluster: MotoCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    active, _ = cluster.coordinators
    denied = InjectedAwsError(cluster.aws.ec2, "DescribeNetworkInterfaces", "UnauthorizedOperation")
    result = invoke(cluster, SCHEDULE)
    denied.remove()
    assert (result["outcome"], result["aws_error_kind"], result["aws_operation"]) == (
        "aws_error",
        "access_denied",
        "DescribeNetworkInterfaces",
    )
    assert cluster.eni_holder() == active
    assert log_records(capsys)[-1]["decision"] == "aws_error"


def test_throttling_is_not_retried_in_a_loop(cluster: MotoCluster) -> None:
    throttled = InjectedAwsError(cluster.aws.autoscaling, "DescribeAutoScalingGroups", "Throttling")
    result = invoke(cluster, SCHEDULE)
    assert (result["outcome"], result["aws_error_kind"]) == ("aws_error", "throttled")
    assert throttled.fired == 1


def test_an_eni_that_no_longer_exists_is_reported_and_nothing_happens(cluster: MotoCluster) -> None:
    result = invoke(cluster, SCHEDULE, COORDINATOR_ENI_ID="eni-0123456789abcdef0")
    assert (result["outcome"], result["aws_error_kind"]) == ("aws_error", "not_found")


def test_a_coordinator_group_that_does_not_exist_is_reported(cluster: MotoCluster) -> None:
    result = invoke(cluster, SCHEDULE, COORDINATOR_ASG_NAME="no-such-group")
    assert result == {"outcome": "misconfigured", "reason": "Auto Scaling group no-such-group does not exist"}
