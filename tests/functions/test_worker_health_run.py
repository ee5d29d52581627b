"""Worker-health runs against moto: counting across runs in the instance tag, marking, refusing.

The coordinator's node list is given as data (moto's instances run no Trino); reading it from a
real coordinator is covered by the integration suite. "Unreachable" uses a closed local port.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.shared.lambda_support import EnvReader
from functions.worker_health import run as worker_health_run
from functions.worker_health.rules import CoordinatorView
from functions.worker_health.run import WorkerHealthConfig, WorkerHealthRun
from node_agent.contract import TAG_HEALTH_MISSES, Metric
from tests.functions.moto_cluster import (
    CLUSTER,
    WORKER_GROUP,
    InjectedAwsError,
    LogLines,
    MotoCluster,
    SteppingClock,
    build_cluster,
    function_env,
    load_handler,
    unreachable_trino,
)

SCHEDULE = {"source": "aws.events", "detail-type": "Scheduled Event", "resources": []}


worker_health = load_handler("worker_health")


@pytest.fixture
def cluster(aws: Any) -> MotoCluster:
    return build_cluster(aws, coordinators=2, workers=4)


def health_run(
    cluster: MotoCluster,
    active: list[str] | None,
    *,
    logs: LogLines | None = None,
    **env: str,
) -> WorkerHealthRun:
    """A run whose coordinator lists `active` as its active workers (None: it does not answer)."""
    config = WorkerHealthConfig.from_env(EnvReader(function_env(cluster, **env)))
    trino = unreachable_trino()
    read_view = None if active is None else (lambda _admin: CoordinatorView(dict.fromkeys(active, "active")))
    extra = {} if read_view is None else {"read_view": read_view}
    return WorkerHealthRun(
        config,
        ec2=cluster.aws.ec2,
        autoscaling=cluster.aws.autoscaling,
        cloudwatch=cluster.aws.cloudwatch,
        admin_for=trino.admin,
        clock=SteppingClock(),
        log=logs if logs is not None else LogLines(),
        **extra,
    )


def misses(cluster: MotoCluster) -> dict[str, str]:
    answer = cluster.aws.ec2.describe_instances(InstanceIds=cluster.workers)
    found = {}
    for reservation in answer["Reservations"]:
        for instance in reservation["Instances"]:
            for tag in instance.get("Tags", []):
                if tag["Key"] == TAG_HEALTH_MISSES:
                    found[instance["InstanceId"]] = tag["Value"]
    return found


def test_a_missing_worker_is_marked_unhealthy_on_the_third_run_and_no_earlier(cluster: MotoCluster) -> None:
    lost, *healthy = cluster.workers
    for expected in ("1", "2"):
        assert health_run(cluster, healthy).run().marked == []
        assert misses(cluster) == {lost: expected}
    assert health_run(cluster, healthy).run().marked == [lost]
    assert cluster.health(WORKER_GROUP) == {lost: "Unhealthy", **dict.fromkeys(healthy, "Healthy")}


def test_each_run_publishes_how_many_workers_it_marked(cluster: MotoCluster) -> None:
    _lost, *healthy = cluster.workers
    for _ in range(3):
        health_run(cluster, healthy).run()
    assert cluster.metric_sum(Metric.WORKERS_MARKED_UNHEALTHY.value) == 1.0


def test_a_worker_that_comes_back_has_its_count_cleared(cluster: MotoCluster) -> None:
    flaky = cluster.workers[0]
    health_run(cluster, cluster.workers[1:]).run()
    health_run(cluster, cluster.workers[1:]).run()
    health_run(cluster, cluster.workers).run()
    assert misses(cluster) == {}
    health_run(cluster, cluster.workers[1:]).run()
    assert misses(cluster) == {flaky: "1"}
    assert cluster.health(WORKER_GROUP)[flaky] == "Healthy"


def test_nothing_is_counted_or_marked_while_the_coordinator_is_unreachable(cluster: MotoCluster) -> None:
    lost = cluster.workers[0]
    cluster.aws.ec2.create_tags(Resources=[lost], Tags=[{"Key": TAG_HEALTH_MISSES, "Value": "2"}])
    logs = LogLines()
    for _ in range(3):
        assert health_run(cluster, None, logs=logs).run().outcome == "coordinator_unreachable"
    assert misses(cluster) == {lost: "2"}
    assert set(cluster.health(WORKER_GROUP).values()) == {"Healthy"}
    assert logs.decisions() == ["coordinator_unreachable"] * 3
    assert logs.records[0]["coordinator"] == "10.0.1.200"


def test_a_systemic_fault_replaces_no_worker_in_waves(aws: Any) -> None:
    # The coordinator answers but no worker can register: the old cap replaced 25 % per wave.
    fleet = build_cluster(aws, coordinators=2, workers=20)
    logs = LogLines()
    for _ in range(10):
        assert health_run(fleet, [], logs=logs).run().marked == []
    assert set(fleet.health(WORKER_GROUP).values()) == {"Healthy"}
    fault = logs.of("systemic_fault")[-1]
    assert (fault["limit"], len(fault["failing"])) == (5, 20)
    assert "none marked" in fault["reason"]


def test_a_systemic_fault_is_published_for_the_alarm(cluster: MotoCluster) -> None:
    health_run(cluster, []).run()
    assert cluster.metric_sum(Metric.SYSTEMIC_WORKER_FAULT.value) == 1.0
    health_run(cluster, cluster.workers).run()
    assert cluster.metric_sum(Metric.SYSTEMIC_WORKER_FAULT.value) == 1.0  # the healthy run publishes 0


def test_workers_still_failing_once_a_systemic_fault_ends_are_replaced_at_once(cluster: MotoCluster) -> None:
    lost, *recovered = cluster.workers
    for _ in range(3):
        health_run(cluster, []).run()
    assert health_run(cluster, recovered).run().marked == [lost]


def test_the_next_run_waits_for_room_while_the_marked_are_still_in_the_group(cluster: MotoCluster) -> None:
    being_replaced, lost, *healthy = cluster.workers
    cluster.aws.autoscaling.set_instance_health(InstanceId=being_replaced, HealthStatus="Unhealthy")
    logs = LogLines()
    for _ in range(4):
        health_run(cluster, healthy, logs=logs).run()  # default fraction 0.25 of 4 workers: one at a time
    assert cluster.health(WORKER_GROUP)[lost] == "Healthy"
    assert logs.of("held_back")[-1]["instances"] == [lost]


def test_a_worker_within_the_grace_period_is_left_alone(cluster: MotoCluster) -> None:
    for _ in range(4):
        health_run(cluster, [], GRACE_PERIOD_SECONDS="900").run()
    assert misses(cluster) == {}
    assert set(cluster.health(WORKER_GROUP).values()) == {"Healthy"}


def test_a_hand_edited_count_is_read_as_zero(cluster: MotoCluster) -> None:
    lost, *healthy = cluster.workers
    cluster.aws.ec2.create_tags(Resources=[lost], Tags=[{"Key": TAG_HEALTH_MISSES, "Value": "lots"}])
    health_run(cluster, healthy).run()
    assert misses(cluster) == {lost: "1"}


def test_an_instance_that_vanished_before_its_count_was_written_is_logged_and_skipped(
    cluster: MotoCluster,
) -> None:
    gone, lost, *healthy = cluster.workers

    def gone_already(params: dict[str, Any], **_kwargs: Any) -> None:
        if gone in params.get("Resources", []):
            raise _not_found(gone)

    cluster.aws.ec2.meta.events.register("before-parameter-build.ec2.CreateTags", gone_already)
    logs = LogLines()
    health_run(cluster, healthy, logs=logs).run()
    assert misses(cluster) == {lost: "1"}
    (record,) = logs.of("instance_gone")
    assert record["instance"] == gone


def test_access_denied_on_writing_counts_marks_nothing(cluster: MotoCluster, capsys: Any) -> None:
    InjectedAwsError(cluster.aws.ec2, "CreateTags", "UnauthorizedOperation")
    for _ in range(3):
        result = invoke(cluster, SCHEDULE, active=cluster.workers[1:])
        assert (result["outcome"], result["aws_operation"]) == ("aws_error", "CreateTags")
    assert set(cluster.health(WORKER_GROUP).values()) == {"Healthy"}
    decisions = [json.loads(line)["decision"] for line in capsys.readouterr().out.splitlines()]
    assert decisions == ["check_failed", "aws_error"] * 3


def test_throttling_on_marking_stops_the_run_without_retrying(cluster: MotoCluster) -> None:
    lost = cluster.workers[0]
    cluster.aws.ec2.create_tags(Resources=[lost], Tags=[{"Key": TAG_HEALTH_MISSES, "Value": "2"}])
    throttled = InjectedAwsError(cluster.aws.autoscaling, "SetInstanceHealth", "Throttling")
    result = invoke(cluster, SCHEDULE, active=cluster.workers[1:])
    assert (result["outcome"], result["aws_error_kind"]) == ("aws_error", "throttled")
    assert throttled.fired == 1


@pytest.mark.parametrize(
    "event",
    [
        {
            "source": "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification",
            "detail": {"instance-id": "i-1"},
        },
        {"Event": "autoscaling:TEST_NOTIFICATION"},
        {"source": "aws.autoscaling", "detail-type": "EC2 Instance Launch Successful", "detail": {}},
        [1, 2, 3],
    ],
    ids=["ec2-event", "test-notification", "autoscaling-event", "not-an-object"],
)
def test_anything_but_the_schedule_is_ignored_so_a_check_is_never_counted_twice(
    cluster: MotoCluster, event: object
) -> None:
    assert invoke(cluster, event, active=[])["outcome"] == "ignored"
    assert misses(cluster) == {}


def test_a_missing_worker_group_name_is_reported(aws: Any) -> None:
    result = worker_health.handler(SCHEDULE, None, environ={"CLUSTER": CLUSTER}, clients={})
    assert result["outcome"] == "misconfigured"
    assert "WORKER_ASG_NAME is required" in result["reason"]
    assert "COORDINATOR_ENI_ID is required" in result["reason"]


def test_a_fraction_above_one_is_refused(cluster: MotoCluster) -> None:
    result = invoke(cluster, SCHEDULE, active=[], MAX_UNHEALTHY_FRACTION="1.5")
    assert "MAX_UNHEALTHY_FRACTION=1.5 is out of range (0.0..1.0)" in result["reason"]


def test_the_scheduled_handler_reaches_an_unreachable_coordinator_and_stops(cluster: MotoCluster) -> None:
    environ = function_env(cluster, PROBE_TIMEOUT_SECONDS="1")
    result = worker_health.handler(
        SCHEDULE, None, environ=environ, clients=cluster.aws.as_dict(), trino=unreachable_trino()
    )
    assert result == {"outcome": "coordinator_unreachable", "marked": []}


def invoke(cluster: MotoCluster, event: object, *, active: list[str], **env: str) -> dict[str, Any]:
    """The handler, with the coordinator's node list replaced by `active` (moto runs no Trino)."""
    with pytest.MonkeyPatch.context() as patch:
        view = CoordinatorView(dict.fromkeys(active, "active"))
        patch.setattr(worker_health_run, "coordinator_view", lambda _admin: view)
        return worker_health.handler(
            event,
            None,
            environ=function_env(cluster, **env),
            clients=cluster.aws.as_dict(),
            trino=unreachable_trino(),
        )


def _not_found(instance_id: str) -> Exception:
    from botocore.exceptions import ClientError

    error = {
        "Code": "InvalidInstanceID.NotFound",
        "Message": f"The instance ID '{instance_id}' does not exist",
    }
    return ClientError({"Error": error}, "CreateTags")
