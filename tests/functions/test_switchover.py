"""The coordinator switchover against moto, with a stand-in for the termination hook moto lacks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from functions.failover.holder_wait import WaitMarks
from functions.failover.query_ids import UNFOLLOWED_GRACE_SECONDS
from functions.failover.switchover import Switchover, SwitchoverConfig
from node_agent.contract import TAG_SWITCHOVER_SINCE, Metric
from node_agent.trino.admin import TrinoError
from tests.functions.moto_cluster import (
    CLUSTER,
    COORDINATOR_GROUP,
    LogLines,
    MotoCluster,
    ScriptedProbes,
    SteppingClock,
    build_cluster,
)
from tests.functions.standin_hook import StandInTerminationHook

HOOK = f"{CLUSTER}-switchover"


class QueriesOnHolder:
    """How many queries the holder has at each look (the last entry repeats)."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.looks = 0

    def __call__(self, _address: str) -> int:
        count = self.counts[min(self.looks, len(self.counts) - 1)]
        self.looks += 1
        return count


class SubmissionsOnHolder:
    """The holder's query id sequence: each mark takes the next id; `submit` queries come from clients.

    `undispatched` queries have an id but are not listed (their clients have not followed the
    nextUri yet); `dispatch` lists them. `on_detach` runs a callback at the first ENI detach.
    """

    def __init__(self) -> None:
        self.counter = 0
        self.listed_ids: set[str] = set()
        self.undispatched: list[str] = []

    def _next(self) -> str:
        self.counter += 1
        return f"20261206_120000_{self.counter:05d}_abcde"

    def mark(self, _address: str) -> str:
        # Cancelled before dispatch, so never listed (measured on 476: a switchover whose marks
        # fell inside a later window never found a quiet moment).
        return self._next()

    def submit(self) -> None:
        self.undispatched.append(self._next())

    def dispatch(self) -> None:
        self.listed_ids.update(self.undispatched)
        self.undispatched.clear()

    def listed(self, _address: str) -> set[str]:
        return set(self.listed_ids)


class UnreachableForMarks(SubmissionsOnHolder):
    def mark(self, _address: str) -> str:
        raise TrinoError("POST /v1/statement: connection refused")


class MarksRefusedAfterDetach(SubmissionsOnHolder):
    """The holder's statement endpoint fails once, for the mark taken once the ENI is free."""

    def __init__(self, cluster: MotoCluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.refused = 0

    def mark(self, address: str) -> str:
        if self.cluster.eni_holder() is None and not self.refused:
            self.refused += 1
            raise TrinoError("POST /v1/statement: timed out")
        return super().mark(address)


@pytest.fixture
def cluster(aws: Any) -> MotoCluster:
    return build_cluster(aws, coordinators=2)


@pytest.fixture
def hook(cluster: MotoCluster) -> StandInTerminationHook:
    return StandInTerminationHook(cluster.aws.autoscaling, HOOK)


Coordinators = tuple[str, str]  # (ENI holder, standby)


@pytest.fixture
def holder_leaving(cluster: MotoCluster, hook: StandInTerminationHook) -> Coordinators:
    """The switchover's main case: the termination hook holds the coordinator with the address."""
    holder, standby = cluster.coordinators
    hook.hold(holder)
    return holder, standby


def switchover(
    cluster: MotoCluster,
    *,
    probes: ScriptedProbes | None = None,
    queries: Callable[[str], int] | None = None,
    clock: SteppingClock | None = None,
    logs: LogLines | None = None,
    quiet_wait: int = 300,
    standby_wait: int = 3600,
    hand_over: Callable[[str, str], int] | None = None,
    workers_counted: Callable[[str], int] | None = None,
    submissions: SubmissionsOnHolder | None = None,
) -> Switchover:
    clock = clock or SteppingClock()
    return Switchover(
        COORDINATOR_GROUP,
        cluster.eni_id,
        CLUSTER,
        SwitchoverConfig(HOOK, quiet_wait_seconds=quiet_wait, standby_wait_seconds=standby_wait),
        ec2=cluster.aws.ec2,
        autoscaling=cluster.aws.autoscaling,
        cloudwatch=cluster.aws.cloudwatch,
        probe=probes or ScriptedProbes(),
        active_queries=queries or QueriesOnHolder([0]),
        remaining_seconds=clock.remaining,
        hand_over_workers=hand_over,
        active_workers=workers_counted,
        submission_mark=submissions.mark if submissions else None,
        listed_queries=submissions.listed if submissions else None,
        clock=clock,
        log=logs if logs is not None else LogLines(),
    )


class HandOverRecorder:
    """Stands in for the Trino discovery calls: records each hand-over and who held the address."""

    def __init__(self, cluster: MotoCluster, workers: int = 2, fail: Exception | None = None) -> None:
        self.cluster, self.workers, self.fail = cluster, workers, fail
        self.calls: list[tuple[str, str, str | None]] = []  # (source, target, ENI holder at the time)

    def __call__(self, source: str, target: str) -> int:
        self.calls.append((source, target, self.cluster.eni_holder()))
        if self.fail is not None:
            raise self.fail
        return self.workers


def later(clock: SteppingClock, seconds: float) -> SteppingClock:
    """The clock of a new invocation `seconds` after this one started."""
    return SteppingClock(start=clock.start + timedelta(seconds=seconds))


def test_a_leaving_standby_is_let_go_at_once(cluster: MotoCluster, hook: StandInTerminationHook) -> None:
    holder, standby = cluster.coordinators
    hook.hold(standby)
    (result,) = switchover(cluster).run()
    assert (result.instance_id, result.outcome) == (standby, "released")
    assert hook.completed() == [standby]
    assert hook.completions()[0].params["LifecycleActionResult"] == "CONTINUE"
    assert cluster.eni_holder() == holder


def test_the_leaving_holder_hands_the_address_to_a_healthy_standby_when_quiet(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    logs = LogLines()
    (result,) = switchover(cluster, logs=logs).run()
    assert (result.outcome, result.target) == ("moved", standby)
    assert cluster.eni_holder() == standby
    assert hook.completed() == [holder]
    (line,) = logs.of("switchover_moved")  # one line per switchover (the rehearsal once saw two)
    assert (line["target"], line["active_queries"]) == (standby, 0)


def test_the_holder_keeps_the_address_while_queries_run_and_moves_at_the_first_quiet_look(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    _holder, standby = holder_leaving
    queries = QueriesOnHolder([3, 2, 1, 0])
    (result,) = switchover(cluster, queries=queries).run()
    assert result.outcome == "moved"
    assert queries.looks == 5  # four looks, the fourth quiet, and one more once the ENI is free
    assert cluster.eni_holder() == standby


class QueriesSeenWithHolder(QueriesOnHolder):
    """QueriesOnHolder that also records who held the ENI at each look."""

    def __init__(self, cluster: MotoCluster, counts: list[int]) -> None:
        super().__init__(counts)
        self.cluster = cluster
        self.holders: list[str | None] = []

    def __call__(self, address: str) -> int:
        self.holders.append(self.cluster.eni_holder())
        return super().__call__(address)


def test_the_holder_is_asked_again_once_the_eni_is_free_so_no_new_query_can_reach_it(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    queries = QueriesSeenWithHolder(cluster, [0])
    (result,) = switchover(cluster, queries=queries).run()
    assert result.outcome == "moved"
    assert queries.holders == [holder, None]  # the quiet look, then the look with the ENI detached
    assert cluster.eni_holder() == standby


def test_a_query_that_began_between_the_quiet_look_and_the_detach_keeps_the_address_on_the_holder(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    logs = LogLines()
    # quiet look, then 1 query found once the ENI is free, then it runs one look and ends
    queries = QueriesSeenWithHolder(cluster, [0, 1, 1, 0, 0])
    (result,) = switchover(cluster, queries=queries, logs=logs).run()
    assert queries.holders == [holder, None, holder, holder, None]
    (returned,) = logs.of("switchover_move_returned")
    assert "1 queries began on the holder during the move" in returned["reason"]
    assert (result.outcome, result.target) == ("moved", standby)
    assert cluster.eni_holder() == standby
    assert hook.completed() == [holder]
    assert logs.of("switchover_not_quiet") == []


def test_a_query_submitted_but_not_yet_dispatched_at_the_detach_keeps_the_address_on_the_holder(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """Its client has the POST's answer; its nextUri would lead to the target, which knows nothing."""
    holder, standby = holder_leaving
    logs = LogLines()
    submissions = SubmissionsOnHolder()
    queries = QueriesSeenWithHolder(cluster, [0])

    detaches = []

    def detach_raced_by_a_submission(**_: Any) -> None:
        detaches.append(submissions.counter)
        if len(detaches) == 1:  # after the quiet look's mark, before the first detach
            submissions.submit()

    def client_follows_once_the_eni_is_back(**_: Any) -> None:
        if cluster.eni_holder() == holder:
            submissions.dispatch()

    cluster.aws.ec2.meta.events.register(
        "before-call.ec2.DetachNetworkInterface", detach_raced_by_a_submission
    )
    cluster.aws.ec2.meta.events.register(
        "after-call.ec2.AttachNetworkInterface", client_follows_once_the_eni_is_back
    )
    (result,) = switchover(cluster, queries=queries, submissions=submissions, logs=logs).run()
    (returned,) = logs.of("switchover_move_returned")
    assert "1 queries were submitted to the holder during the move, not yet dispatched" in returned["reason"]
    assert (result.outcome, result.target) == ("moved", standby)
    assert queries.holders == [holder, None, holder, None]


def test_a_query_submitted_before_the_quiet_look_and_not_yet_dispatched_holds_the_move(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """Listed nowhere yet, it would look quiet; its id between two marks says a client waits on it."""
    logs = LogLines()
    submissions = SubmissionsOnHolder()
    looks: list[int] = []

    def running(_address: str) -> int:
        looks.append(len(submissions.undispatched))
        if len(looks) == 1:
            submissions.submit()  # POSTed after the window opened; its client has not followed nextUri
            return 0
        if len(looks) == 2:
            submissions.dispatch()  # the client's first nextUri: now it runs on the holder
            return 1
        return 0

    detached_after: list[int] = []
    cluster.aws.ec2.meta.events.register(
        "before-call.ec2.DetachNetworkInterface", lambda **_: detached_after.append(len(looks))
    )
    (result,) = switchover(cluster, queries=running, submissions=submissions, logs=logs).run()
    assert result.outcome == "moved"
    assert detached_after[0] == 3  # not at the first look, which listed nothing running
    assert logs.of("switchover_move_returned") == []


def test_a_submitted_query_stays_pending_from_look_to_look_until_its_client_follows_its_nexturi(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """The window moves on at each look; the id seen unlisted in it is carried, not forgotten."""
    submissions = SubmissionsOnHolder()
    looks: list[int] = []

    def running(_address: str) -> int:
        looks.append(len(looks) + 1)
        if len(looks) == 1:
            submissions.submit()  # its client follows the nextUri only at the fourth look
        if len(looks) == 4:
            submissions.dispatch()
            return 1
        return 0

    detached_after: list[int] = []
    cluster.aws.ec2.meta.events.register(
        "before-call.ec2.DetachNetworkInterface", lambda **_: detached_after.append(len(looks))
    )
    (result,) = switchover(cluster, queries=running, submissions=submissions).run()
    assert result.outcome == "moved"
    assert detached_after[0] == 5  # looks 1-3: pending; 4: running; 5: quiet


def test_a_query_that_raced_the_move_holds_the_address_until_its_slow_client_follows_its_nexturi(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """A CI run of the rehearsal lost one so: back on the holder, the switchover looked again
    before the racing client's first GET reached it, found nothing listed and moved at once."""
    holder, standby = holder_leaving
    logs = LogLines()
    submissions = SubmissionsOnHolder()
    looks_back_on_holder: list[int] = []
    detaches: list[int] = []  # how many looks back on the holder had been taken at each detach

    def running(_address: str) -> int:
        if detaches and cluster.eni_holder() == holder:
            looks_back_on_holder.append(1)
            if len(looks_back_on_holder) == 3:
                submissions.dispatch()  # the client's first nextUri, late
                return 1
        return 0

    def detach(**_: Any) -> None:
        detaches.append(len(looks_back_on_holder))
        if len(detaches) == 1:
            submissions.submit()  # POSTed between the quiet look and the detach

    cluster.aws.ec2.meta.events.register("before-call.ec2.DetachNetworkInterface", detach)
    (result,) = switchover(cluster, queries=running, submissions=submissions, logs=logs).run()
    assert len(logs.of("switchover_move_returned")) == 1
    assert detaches == [0, 4]  # looks 1-2: pending; 3: running; 4: quiet
    assert (result.outcome, result.target) == ("moved", standby)


def test_a_submission_no_client_follows_is_given_up_after_the_grace_and_the_address_moves_quietly(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """An id that is never listed (its client got no answer, or left) holds the move only so long."""
    _holder, standby = holder_leaving
    logs, clock = LogLines(), SteppingClock()
    submissions = SubmissionsOnHolder()
    detached_at: list[float] = []
    cluster.aws.ec2.meta.events.register(
        "before-call.ec2.DetachNetworkInterface", lambda **_: detached_at.append(clock.monotonic())
    )
    submissions.submit()  # before the window opens: outside it, but a look must first see it
    opened = submissions.counter

    def running(_address: str) -> int:
        if submissions.counter == opened + 1:  # the window's mark is taken: POSTed inside it
            submissions.submit()
        return 0

    (result,) = switchover(cluster, queries=running, submissions=submissions, clock=clock, logs=logs).run()
    (given_up,) = logs.of("switchover_submission_given_up")
    assert given_up["queries"] == [f"20261206_*_{opened + 2:05d}_abcde"]
    assert (result.outcome, result.target) == ("moved", standby)
    assert detached_at[0] >= UNFOLLOWED_GRACE_SECONDS


def test_a_submission_whose_answer_the_move_lost_does_not_hold_the_address_to_the_quiet_wait_limit(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """A CI run of the rehearsal moved "not quiet" so: the move reset a stream client's POST after
    the holder had allocated its id; the client submitted again, and the first id was never listed."""
    _holder, standby = holder_leaving
    logs = LogLines()
    submissions = SubmissionsOnHolder()
    detaches: list[int] = []

    def detach(**_: Any) -> None:
        detaches.append(1)
        if len(detaches) == 1:
            submissions.submit()  # its answer is lost: nobody ever follows this one

    cluster.aws.ec2.meta.events.register("before-call.ec2.DetachNetworkInterface", detach)
    (result,) = switchover(cluster, submissions=submissions, logs=logs, quiet_wait=120).run()
    assert len(logs.of("switchover_move_returned")) == 1
    assert len(logs.of("switchover_submission_given_up")) == 1
    assert (result.outcome, result.target) == ("moved", standby)


def test_the_grace_for_a_raced_submission_counts_from_the_address_coming_back_to_the_holder(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """While the ENI is away no client can follow; a slow attach must not use up the client's time."""
    holder, standby = holder_leaving
    logs, clock = LogLines(), SteppingClock()
    submissions = SubmissionsOnHolder()
    back_at: list[float] = []
    detaches: list[float] = []

    def detach(**_: Any) -> None:
        detaches.append(clock.monotonic())
        if len(detaches) == 1:
            submissions.submit()  # between the quiet look and the detach; the client has the answer

    def slow_attach_back(**_: Any) -> None:
        if cluster.eni_holder() == holder and detaches and not back_at:
            clock.sleep(UNFOLLOWED_GRACE_SECONDS - 1)  # the attach back took most of the grace
            back_at.append(clock.monotonic())

    def running(_address: str) -> int:
        if back_at and submissions.undispatched and clock.monotonic() >= back_at[0] + 5:
            submissions.dispatch()  # the client follows 5 s after the address answers again
            return 1
        return 0

    cluster.aws.ec2.meta.events.register("before-call.ec2.DetachNetworkInterface", detach)
    cluster.aws.ec2.meta.events.register("after-call.ec2.AttachNetworkInterface", slow_attach_back)
    (result,) = switchover(cluster, queries=running, submissions=submissions, clock=clock, logs=logs).run()
    assert logs.of("switchover_submission_given_up") == []
    assert detaches[1] >= back_at[0] + 5  # the second move waited for the client
    assert (result.outcome, result.target) == ("moved", standby)


def test_the_marks_themselves_do_not_keep_the_address_on_the_holder(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    _holder, standby = holder_leaving
    logs = LogLines()
    (result,) = switchover(cluster, submissions=SubmissionsOnHolder(), logs=logs).run()
    assert (result.outcome, result.target) == ("moved", standby)
    assert logs.of("switchover_move_returned") == []


def test_a_holder_that_cannot_give_a_mark_is_never_called_quiet_and_moves_at_the_limit(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """Without a mark a query submitted and not yet dispatched cannot be ruled out (a CI run of
    the rehearsal lost one so: the marks timed out on a loaded machine and the look was quiet)."""
    _holder, standby = holder_leaving
    (result,) = switchover(cluster, submissions=UnreachableForMarks(), quiet_wait=30).run()
    assert (result.outcome, result.target) == ("moved_not_quiet", standby)


@pytest.mark.usefixtures("holder_leaving")
def test_a_mark_refused_after_the_detach_puts_the_address_back(cluster: MotoCluster) -> None:
    logs = LogLines()
    submissions = MarksRefusedAfterDetach(cluster)
    (result,) = switchover(cluster, submissions=submissions, logs=logs, quiet_wait=30).run()
    (returned, *_) = logs.of("switchover_move_returned")
    assert "not ruled out" in returned["reason"]
    assert result.outcome in ("moved", "moved_not_quiet")  # at a later look, with marks again
    assert submissions.refused == 1


def test_a_move_at_the_quiet_wait_limit_does_not_go_back_to_the_holder(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    _holder, standby = holder_leaving
    queries = QueriesOnHolder([2])
    (result,) = switchover(cluster, queries=queries, quiet_wait=30).run()
    assert result.outcome == "moved_not_quiet"
    assert cluster.eni_holder() == standby


def test_no_quiet_moment_within_the_wait_limit_moves_anyway_and_says_so(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    logs = LogLines()
    (result,) = switchover(cluster, queries=QueriesOnHolder([2]), quiet_wait=30, logs=logs).run()
    assert (result.outcome, result.target) == ("moved_not_quiet", standby)
    assert cluster.eni_holder() == standby
    assert hook.completed() == [holder]
    (line,) = logs.of("switchover_not_quiet")
    assert line["active_queries"] == 2
    assert "moved anyway" in line["reason"]
    assert cluster.metric_sum(Metric.SWITCHOVERS_NOT_QUIET.value) == 1


def test_the_quiet_wait_limit_counts_across_invocations(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    first = SteppingClock()
    (waiting,) = switchover(cluster, queries=QueriesOnHolder([1]), quiet_wait=600, clock=first).run()
    assert waiting.outcome == "waiting_for_quiet"
    assert cluster.eni_holder() == holder
    assert hook.completed() == []
    (moved,) = switchover(
        cluster, queries=QueriesOnHolder([1]), quiet_wait=600, clock=later(first, 600)
    ).run()
    assert moved.outcome == "moved_not_quiet"
    assert cluster.eni_holder() == standby


def test_a_standby_that_never_gets_healthy_keeps_the_address_on_the_holder(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    probes = ScriptedProbes({standby: ["starting"]})
    (result,) = switchover(cluster, probes=probes).run()
    assert result.outcome == "waiting_for_standby"
    assert cluster.eni_holder() == holder
    assert hook.completed() == []
    assert hook.heartbeats() == [holder]  # the hook does not time out while the function waits


def test_after_the_standby_wait_the_holder_is_let_go_without_a_standby(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    probes = ScriptedProbes({standby: ["starting"]})
    first = SteppingClock()
    switchover(cluster, probes=probes, standby_wait=1800, clock=first).run()
    logs = LogLines()
    (result,) = switchover(
        cluster, probes=probes, standby_wait=1800, clock=later(first, 1800), logs=logs
    ).run()
    assert result.outcome == "released_without_standby"
    assert hook.completed() == [holder]
    assert logs.of("switchover_released_without_standby")
    assert cluster.metric_sum(Metric.SWITCHOVERS_WITHOUT_STANDBY.value) == 1


def test_a_second_hook_event_for_the_same_instance_does_nothing_more(
    cluster: MotoCluster, hook: StandInTerminationHook, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    switchover(cluster).run()
    assert switchover(cluster).run() == []  # Terminating:Proceed now: nothing held
    assert hook.completed() == [holder]
    assert cluster.eni_holder() == standby


def test_a_completion_another_invocation_beat_us_to_is_not_an_error(
    cluster: MotoCluster, hook: StandInTerminationHook
) -> None:
    _holder, standby = cluster.coordinators
    hook.hold(standby)
    cluster.aws.autoscaling.complete_lifecycle_action(
        LifecycleHookName=HOOK,
        AutoScalingGroupName=COORDINATOR_GROUP,
        InstanceId=standby,
        LifecycleActionResult="CONTINUE",
    )
    hook.api.calls.clear()  # as if the other invocation ran and the state had not caught up yet
    hook.held = {standby}
    logs = LogLines()
    original = hook._states
    hook._states = lambda parsed, **kw: _still_waiting(parsed, standby)  # type: ignore[method-assign]
    cluster.aws.autoscaling.meta.events.unregister(
        "after-call.auto-scaling.DescribeAutoScalingGroups", original
    )
    cluster.aws.autoscaling.meta.events.register(
        "after-call.auto-scaling.DescribeAutoScalingGroups", hook._states
    )
    (result,) = switchover(cluster, logs=logs).run()
    assert result.outcome == "already_completed"
    assert logs.of("switchover_already_completed")


def _still_waiting(parsed: dict[str, Any], instance_id: str) -> None:
    for group in parsed.get("AutoScalingGroups", []):
        for instance in group.get("Instances", []):
            if instance["InstanceId"] == instance_id:
                instance["LifecycleState"] = "Terminating:Wait"


def test_the_wait_start_is_remembered_on_the_leaving_holder(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    holder, standby = holder_leaving
    clock = SteppingClock()
    switchover(cluster, probes=ScriptedProbes({standby: ["down"]}), clock=clock).run()
    record = cluster.aws.ec2.describe_instances(InstanceIds=[holder])["Reservations"][0]["Instances"][0]
    tags = {t["Key"]: t["Value"] for t in record["Tags"]}
    marks = WaitMarks.parse(tags[TAG_SWITCHOVER_SINCE])
    assert marks is not None
    assert marks.since == clock.start
    assert marks.standby_since is None


def test_single_coordinator_switches_to_the_one_launched_before_it_leaves(aws: Any) -> None:
    """coordinatorCount 1: the refresh launches the new coordinator first (max healthy 200 %)."""
    cluster = build_cluster(aws, coordinators=1)
    (old,) = cluster.coordinators
    aws.autoscaling.update_auto_scaling_group(AutoScalingGroupName=COORDINATOR_GROUP, DesiredCapacity=2)
    (new,) = set(cluster.members(COORDINATOR_GROUP)) - {old}
    hook = StandInTerminationHook(aws.autoscaling, HOOK)
    hook.hold(old)
    (result,) = switchover(cluster).run()
    assert (result.outcome, result.target) == ("moved", new)
    assert cluster.eni_holder() == new
    assert hook.completed() == [old]


def test_single_coordinator_leaving_with_no_replacement_yet_waits(aws: Any) -> None:
    cluster = build_cluster(aws, coordinators=1)
    (old,) = cluster.coordinators
    hook = StandInTerminationHook(aws.autoscaling, HOOK)
    hook.hold(old)
    (result,) = switchover(cluster).run()
    assert result.outcome == "waiting_for_standby"
    assert cluster.eni_holder() == old


def test_nothing_held_means_nothing_done(cluster: MotoCluster, hook: StandInTerminationHook) -> None:
    assert switchover(cluster).run() == []
    assert hook.completed() == [] and hook.heartbeats() == []


def test_the_target_learns_the_holders_workers_before_the_address_moves(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    """Without it the first queries on the new holder found no worker (NO_NODES_AVAILABLE, seen in
    bench/rollout.py on real Trino): the workers announce to the address only after it moved."""
    holder, standby = holder_leaving
    hand_over = HandOverRecorder(cluster)
    logs = LogLines()
    (result,) = switchover(cluster, hand_over=hand_over, workers_counted=lambda _a: 2, logs=logs).run()
    assert result.outcome == "moved"
    (source, target, holder_then), *_ = hand_over.calls
    assert holder_then == holder  # before the move
    assert (source, target) == (cluster.address_of(holder), cluster.address_of(standby))
    (line,) = logs.of("switchover_workers_handed_over")
    assert (line["workers"], line["counted"]) == (2, 2)


def test_the_hand_over_is_repeated_while_the_quiet_wait_lasts_so_the_copies_do_not_expire(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    hand_over = HandOverRecorder(cluster)
    busy_for_50_seconds = QueriesOnHolder([1] * 200 + [0])  # a look every 0.25 s
    switchover(cluster, hand_over=hand_over, workers_counted=lambda _a: 2, queries=busy_for_50_seconds).run()
    assert len(hand_over.calls) == 6  # at the start, then every 10 s
    assert cluster.eni_holder() == holder_leaving[1]


def test_a_failed_hand_over_is_logged_and_the_address_still_moves(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    standby = holder_leaving[1]
    hand_over = HandOverRecorder(cluster, fail=TrinoError("PUT /v1/announcement/x: HTTP 401", status=401))
    logs = LogLines()
    (result,) = switchover(cluster, hand_over=hand_over, logs=logs).run()
    assert (result.outcome, cluster.eni_holder()) == ("moved", standby)
    (line,) = logs.of("switchover_workers_not_handed_over")
    assert "HTTP 401" in line["reason"]


def test_the_move_waits_for_the_target_to_count_the_workers_but_not_forever(
    cluster: MotoCluster, holder_leaving: Coordinators
) -> None:
    counted = QueriesOnHolder([0, 0, 1])  # the target counts 0, 0, then 1 of 2 workers, and stays there
    logs = LogLines()
    clock = SteppingClock()
    (result,) = switchover(
        cluster, hand_over=HandOverRecorder(cluster), workers_counted=counted, logs=logs, clock=clock
    ).run()
    assert result.outcome == "moved"
    (line,) = logs.of("switchover_workers_handed_over")
    assert (line["workers"], line["counted"]) == (2, 1)
    assert 15.0 <= line["seconds"] <= 16.0  # HANDOVER_WAIT_SECONDS on the invocation's clock
