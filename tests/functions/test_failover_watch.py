"""One failover invocation against moto: probing, moving the ENI, marking, racing, timing."""

from __future__ import annotations

from typing import Any

import pytest

from functions.failover.aws_io import MoveOutcome, describe_instances, move_eni, observe
from functions.failover.watch import FailoverConfig, FailoverWatch
from node_agent.contract import COORDINATOR_ENI_DEVICE_INDEX, Metric
from node_agent.trino.admin import TrinoUnavailable
from tests.functions.moto_cluster import (
    CLUSTER,
    COORDINATOR_GROUP,
    InjectedAwsError,
    LogLines,
    MotoCluster,
    ScriptedProbes,
    SteppingClock,
    build_cluster,
)


@pytest.fixture
def cluster(aws: Any) -> MotoCluster:
    return build_cluster(aws, coordinators=2)


def config(cluster: MotoCluster, **changes: Any) -> FailoverConfig:
    values: dict[str, Any] = {
        "cluster": CLUSTER,
        "eni_id": cluster.eni_id,
        "group_name": COORDINATOR_GROUP,
        "failed_probes": 3,
        "probe_interval": 5.0,
        "probe_window": 55.0,
        "grace_seconds": 0,
        # Most tests here are about the probe count; the time rule has its own tests below.
        "unresponsive_seconds": 0.0,
    }
    values.update(changes)
    return FailoverConfig(**values)


def watch(
    cluster: MotoCluster,
    probes: ScriptedProbes,
    *,
    clock: SteppingClock | None = None,
    logs: LogLines | None = None,
    copies: WorkerCopies | None = None,
    **changes: Any,
) -> FailoverWatch:
    clock = clock or SteppingClock()
    return FailoverWatch(
        config(cluster, **changes),
        ec2=cluster.aws.ec2,
        autoscaling=cluster.aws.autoscaling,
        cloudwatch=cluster.aws.cloudwatch,
        probe=probes,
        remaining_seconds=clock.remaining,
        hand_over_workers=copies,
        clock=clock,
        log=logs if logs is not None else LogLines(),
    )


class WorkerCopies:
    """Stands in for the Trino discovery calls that copy the holder's workers to a standby."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []  # (source address, target address)

    def __call__(self, source: str, target: str) -> int:
        self.calls.append((source, target))
        if self.fail is not None:
            raise self.fail
        return 3


def addresses(cluster: MotoCluster) -> dict[str, str | None]:
    observation = observe(cluster.aws.ec2, cluster.aws.autoscaling, cluster.eni_id, COORDINATOR_GROUP)
    return {iid: c.address for iid, c in observation.coordinators.items()}


def test_a_healthy_holder_is_watched_for_the_whole_window_and_keeps_the_eni(cluster: MotoCluster) -> None:
    active, _standby = cluster.coordinators
    clock = SteppingClock()
    result = watch(cluster, ScriptedProbes(), clock=clock).run()
    assert (result.outcome, result.decision, result.rounds) == ("watched", "holder_healthy", 11)
    assert cluster.eni_holder() == active
    assert clock.elapsed == pytest.approx(50.0)  # rounds at 0, 5, ..., 50 s


def test_the_eni_moves_to_the_standby_after_three_failed_probes(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    clock = SteppingClock()
    probes = ScriptedProbes({active: ["ok", "ok", "down"]})
    result = watch(cluster, probes, clock=clock).run()
    assert (result.outcome, result.target) == (MoveOutcome.MOVED.value, standby)
    eni = cluster.eni()
    assert eni["Attachment"]["InstanceId"] == standby
    assert eni["Attachment"]["DeviceIndex"] == COORDINATOR_ENI_DEVICE_INDEX
    # first failure in round 3 (t=10 s), third in round 5 (t=20 s): moved 10 s after the first
    assert clock.elapsed == pytest.approx(20.0)


def test_the_failed_holder_is_marked_unhealthy_and_the_standby_is_not(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    watch(cluster, ScriptedProbes({active: ["down"]})).run()
    assert cluster.health(COORDINATOR_GROUP) == {active: "Unhealthy", standby: "Healthy"}


def test_each_failover_publishes_one_coordinator_failovers_datapoint(cluster: MotoCluster) -> None:
    active, _ = cluster.coordinators
    watch(cluster, ScriptedProbes({active: ["down"]})).run()
    assert cluster.metric_sum(Metric.COORDINATOR_FAILOVERS.value) == 1.0


def test_a_flapping_holder_keeps_the_eni_and_stays_healthy(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    logs = LogLines()
    watch(cluster, ScriptedProbes({active: ["down", "down", "ok"] * 10}), logs=logs).run()
    assert cluster.eni_holder() == active
    assert cluster.health(COORDINATOR_GROUP) == {active: "Healthy", standby: "Healthy"}
    assert cluster.metric_sum(Metric.COORDINATOR_FAILOVERS.value) == 0.0
    assert logs.of("holder_failing")[0]["failures"] == 1


def test_a_single_failed_probe_does_nothing_but_log_it(cluster: MotoCluster) -> None:
    active, _ = cluster.coordinators
    logs = LogLines()
    watch(cluster, ScriptedProbes({active: ["down", "ok"]}), logs=logs).run()
    assert cluster.eni_holder() == active
    address = cluster.address(active)
    assert [r["reason"] for r in logs.of("holder_failing")] == [
        f"unreachable: connection refused ({address}) (1 of 3 failed probes)"
    ]


def test_with_both_coordinators_failing_the_eni_stays_and_nothing_is_marked(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    logs = LogLines()
    result = watch(cluster, ScriptedProbes({active: ["down"], standby: ["down"]}), logs=logs).run()
    assert result.decision == "no_healthy_standby"
    assert cluster.eni_holder() == active
    assert cluster.health(COORDINATOR_GROUP) == {active: "Healthy", standby: "Healthy"}
    assert len(logs.of("no_healthy_standby")) == 1  # said once, not every round


def test_a_standby_that_recovers_within_the_window_gets_the_eni(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    probes = ScriptedProbes({active: ["down"], standby: ["down"] * 5 + ["ok"]})
    result = watch(cluster, probes).run()
    assert (result.outcome, result.target) == ("moved", standby)


def test_a_stopped_holder_loses_the_eni_in_the_first_round(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    cluster.aws.ec2.stop_instances(InstanceIds=[active])
    result = watch(cluster, ScriptedProbes()).run()
    assert (result.outcome, result.rounds, cluster.eni_holder()) == ("moved", 1, standby)


def test_an_unattached_eni_is_attached_to_a_healthy_coordinator(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    attachment = cluster.eni()["Attachment"]["AttachmentId"]
    cluster.aws.ec2.detach_network_interface(AttachmentId=attachment)
    result = watch(cluster, ScriptedProbes({active: ["down"]})).run()
    assert (result.outcome, cluster.eni_holder()) == ("attached", standby)


def test_a_failure_streak_open_at_the_end_of_the_window_is_followed_to_its_verdict(
    cluster: MotoCluster,
) -> None:
    active, standby = cluster.coordinators
    clock = SteppingClock()
    # healthy at t=0..45 s, down from the last round in the window (t=50 s): followed to t=60 s
    result = watch(cluster, ScriptedProbes({active: ["ok"] * 10 + ["down"]}), clock=clock).run()
    assert (result.outcome, cluster.eni_holder()) == ("moved", standby)
    assert clock.elapsed == pytest.approx(60.0)


def test_the_watch_stops_early_enough_to_act_before_the_lambda_times_out(cluster: MotoCluster) -> None:
    clock = SteppingClock(lambda_timeout=45.0)
    result = watch(cluster, ScriptedProbes(), clock=clock).run()
    # a round starts only with the 25 s margin left: at 0..20 s; at 25 s only 20 s would remain
    assert result.rounds == 5


def test_a_sick_standby_beside_a_healthy_holder_is_marked_for_replacement(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    logs = LogLines()
    watch(cluster, ScriptedProbes({standby: ["down"]}), logs=logs).run()
    assert cluster.health(COORDINATOR_GROUP) == {active: "Healthy", standby: "Unhealthy"}
    assert [r["instance"] for r in logs.of("marked_unhealthy")] == [standby]


def test_a_booting_standby_within_the_grace_period_is_left_alone(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    watch(cluster, ScriptedProbes({standby: ["starting"]}), grace_seconds=600).run()
    assert cluster.health(COORDINATOR_GROUP) == {active: "Healthy", standby: "Healthy"}


def test_the_replacement_of_a_failed_holder_becomes_the_next_standby(cluster: MotoCluster) -> None:
    first, second = cluster.coordinators
    watch(cluster, ScriptedProbes({first: ["down"]})).run()
    replacement = cluster.replace(COORDINATOR_GROUP, first)  # what the group does with Unhealthy
    # later the new holder dies; no one has touched anything in between
    result = watch(cluster, ScriptedProbes({second: ["down"]})).run()
    assert (result.outcome, result.holder, cluster.eni_holder()) == ("moved", second, replacement)


def test_a_second_invocation_acting_on_a_stale_look_does_not_move_the_eni_again(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    stale = observe(cluster.aws.ec2, cluster.aws.autoscaling, cluster.eni_id, COORDINATOR_GROUP)
    watch(cluster, ScriptedProbes({active: ["down"]})).run()  # the first invocation moves it
    result = move_eni(cluster.aws.ec2, stale.eni, active, wait_available=lambda: True)
    assert (result.outcome, result.eni_holder) == (MoveOutcome.ALREADY_MOVED, standby)
    assert cluster.eni_holder() == standby


def test_an_invocation_whose_detach_loses_the_race_does_not_attach(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    observed = observe(cluster.aws.ec2, cluster.aws.autoscaling, cluster.eni_id, COORDINATOR_GROUP).eni
    other = cluster.aws.ec2  # the competing invocation detaches between our re-describe and our detach

    def competitor_detaches_first(**_kwargs: Any) -> None:
        other.meta.events.unregister("before-call.ec2.DetachNetworkInterface", competitor_detaches_first)
        other.detach_network_interface(AttachmentId=observed.attachment_id, Force=True)
        other.attach_network_interface(NetworkInterfaceId=cluster.eni_id, InstanceId=standby, DeviceIndex=1)

    cluster.aws.ec2.meta.events.register("before-call.ec2.DetachNetworkInterface", competitor_detaches_first)
    result = move_eni(cluster.aws.ec2, observed, active, wait_available=lambda: True)
    assert result.outcome is MoveOutcome.LOST_RACE
    assert cluster.eni_holder() == standby


def test_two_overlapping_invocations_move_the_eni_once(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    first_logs, second_logs = LogLines(), LogLines()
    first = watch(cluster, ScriptedProbes({active: ["down"]}), logs=first_logs)
    second = watch(cluster, ScriptedProbes({active: ["down"]}), logs=second_logs)
    # the second looked at the ENI before the first moved it, then acts on that look
    stale = observe(cluster.aws.ec2, cluster.aws.autoscaling, cluster.eni_id, COORDINATOR_GROUP)
    first.run()
    second_result = second._act(stale, _move_decision(active, standby))
    assert second_result is not None and second_result.outcome is MoveOutcome.ALREADY_MOVED
    assert cluster.metric_sum(Metric.COORDINATOR_FAILOVERS.value) == 1.0
    assert second_logs.decisions() == ["already_moved"]


def test_a_refused_mark_is_logged_and_the_move_stands(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    InjectedAwsError(cluster.aws.autoscaling, "SetInstanceHealth", "AccessDenied")
    logs = LogLines()
    result = watch(cluster, ScriptedProbes({active: ["down"]}), logs=logs).run()
    assert (result.outcome, cluster.eni_holder()) == ("moved", standby)
    (failed,) = logs.of("mark_unhealthy_failed")
    assert (failed["instance"], failed["aws_error_code"]) == (active, "AccessDenied")


def _move_decision(holder: str, target: str) -> Any:
    from functions.failover.rules import Action, Decision

    return Decision(Action.MOVE, "test: holder failed", holder=holder, target=target, failures=3)


def test_an_eni_left_unattached_by_an_interrupted_move_is_attached_by_the_next_run(
    cluster: MotoCluster,
) -> None:
    active, standby = cluster.coordinators
    observed = observe(cluster.aws.ec2, cluster.aws.autoscaling, cluster.eni_id, COORDINATOR_GROUP).eni
    stuck = move_eni(cluster.aws.ec2, observed, standby, wait_available=lambda: False)
    assert (stuck.outcome, cluster.eni_holder()) == (MoveOutcome.DETACH_STUCK, None)
    result = watch(cluster, ScriptedProbes({active: ["down"]})).run()
    assert (result.outcome, cluster.eni_holder()) == ("attached", standby)


def test_instances_ec2_no_longer_knows_are_left_out_of_a_batch_lookup(cluster: MotoCluster) -> None:
    known = cluster.coordinators[0]
    found = describe_instances(cluster.aws.ec2, [known, "i-0123456789abcdef0"])
    assert list(found) == [known]
    assert describe_instances(cluster.aws.ec2, ["i-0123456789abcdef0"]) == {}


def test_a_holder_that_fails_its_probes_through_a_fifteen_second_pause_keeps_the_eni(
    cluster: MotoCluster,
) -> None:
    """A 15 s stop-the-world pause spans four probe starts (0, 5, 10, 15 s): more than three failed
    probes in a row, yet the coordinator is only slow, and moving would drop every running query."""
    active, _standby = cluster.coordinators
    probes = ScriptedProbes({active: ["ok", "down", "down", "down", "down", "ok"]})
    logs = LogLines()
    result = watch(cluster, probes, logs=logs, unresponsive_seconds=20.0).run()
    assert (result.outcome, result.decision) == ("watched", "holder_healthy")
    assert cluster.eni_holder() == active
    assert [r["failures"] for r in logs.of("holder_failing")] == [1, 2, 3, 4]
    assert cluster.health(COORDINATOR_GROUP)[active] == "Healthy"


def test_a_holder_that_keeps_failing_for_the_unresponsive_time_loses_the_eni(cluster: MotoCluster) -> None:
    active, standby = cluster.coordinators
    clock = SteppingClock()
    probes = ScriptedProbes({active: ["ok", "down"]})
    result = watch(cluster, probes, clock=clock, unresponsive_seconds=20.0).run()
    assert (result.outcome, result.target) == (MoveOutcome.MOVED.value, standby)
    assert clock.elapsed == pytest.approx(25.0)  # first failure at 5 s, then 20 s of failures


def test_a_throttled_attach_after_the_detach_is_retried_within_the_run(cluster: MotoCluster) -> None:
    """Once left the address attached to nothing until the next run, with the old holder unmarked."""
    active, standby = cluster.coordinators
    throttle = InjectedAwsError(cluster.aws.ec2, "AttachNetworkInterface", "RequestLimitExceeded", times=2)
    logs = LogLines()
    result = watch(cluster, ScriptedProbes({active: ["down"]}), logs=logs).run()
    throttle.remove()
    assert (result.outcome, result.target) == (MoveOutcome.MOVED.value, standby)
    assert cluster.eni_holder() == standby
    assert throttle.fired == 2 and len(logs.of("attach_retry")) == 2
    assert cluster.health(COORDINATOR_GROUP) == {active: "Unhealthy", standby: "Healthy"}


def test_the_old_holder_is_marked_after_the_detach_even_if_no_attach_gets_through(
    cluster: MotoCluster,
) -> None:
    active, standby = cluster.coordinators
    throttle = InjectedAwsError(cluster.aws.ec2, "AttachNetworkInterface", "RequestLimitExceeded")
    clock = SteppingClock()
    logs = LogLines()
    result = watch(cluster, ScriptedProbes({active: ["down"]}), clock=clock, logs=logs).run()
    throttle.remove()
    assert cluster.eni_holder() is None  # the next invocation attaches it
    assert cluster.health(COORDINATOR_GROUP) == {active: "Unhealthy", standby: "Healthy"}
    assert result.outcome == "watched" and logs.of(MoveOutcome.ATTACH_FAILED.value)
    assert clock.remaining() > 0  # gave up inside the Lambda's time


# --- a warm standby ---------------------------------------------------------------------------
def test_a_healthy_standby_gets_the_healthy_holders_workers_every_ten_seconds(cluster: MotoCluster) -> None:
    """So after a crash it schedules on them at once, instead of waiting for their announcements."""
    active, standby = cluster.coordinators
    copies, logs = WorkerCopies(), LogLines()
    watch(cluster, ScriptedProbes(), logs=logs, copies=copies).run()
    address = addresses(cluster)
    assert copies.calls == [(address[active], address[standby])] * 6  # rounds 0-50 s, every other one
    (line,) = logs.of("standby_kept_warm")
    assert (line["standby"], line["workers"]) == (standby, 3)


def test_a_standby_failing_its_probes_gets_no_copies(cluster: MotoCluster) -> None:
    _active, standby = cluster.coordinators
    copies = WorkerCopies()
    watch(cluster, ScriptedProbes({standby: ["down"]}), copies=copies).run()
    assert copies.calls == []


def test_no_copies_are_made_from_a_failing_holder(cluster: MotoCluster) -> None:
    active, _standby = cluster.coordinators
    copies = WorkerCopies()
    result = watch(cluster, ScriptedProbes({active: ["ok", "down"]}), copies=copies).run()
    assert result.outcome == MoveOutcome.MOVED.value
    assert len(copies.calls) == 1  # the first round's, while it was healthy


def test_a_failed_copy_is_logged_once_and_the_watch_goes_on(cluster: MotoCluster) -> None:
    active, _standby = cluster.coordinators
    copies, logs = WorkerCopies(fail=TrinoUnavailable("POST /v1/announce: connection refused")), LogLines()
    result = watch(cluster, ScriptedProbes(), logs=logs, copies=copies).run()
    assert (result.outcome, cluster.eni_holder()) == ("watched", active)
    assert len(copies.calls) == 11  # tried each round: a failed copy leaves the standby as cold as before
    (line,) = logs.of("standby_not_kept_warm")
    assert "connection refused" in line["reason"]
