"""Coordinator switchover: the failover function's handling of the coordinator termination hook.

An instance refresh (or a scale-in, or a person) terminating a coordinator puts it in
Terminating:Wait on the switchover hook. Trino refuses a graceful shutdown on a coordinator, so
the only way not to fail a query is to move the address while none runs:
- a leaving coordinator that does not hold the address is let go at once (CONTINUE);
- the holder keeps the address until a standby is healthy (the same probe the failover uses;
  one on the group's current launch template preferred, then the newest), then the address
  moves at a moment when the holder has no query a client waits on, and the holder is let go;
- no quiet moment within `quiet_wait` of a standby being ready: the address moves anyway, and
  the log line `switchover_not_quiet` and the metric SwitchoversNotQuiet say so;
- no healthy standby within `standby_wait`: the holder is let go anyway (`switchover_no_standby`,
  metric SwitchoversWithoutStandby); the failover then moves the address once one is healthy.
Everything is derived from AWS on each run (who is in Terminating:Wait, who holds the ENI), plus
one tag on the leaving holder that remembers when the wait began, so a second hook event, the
minute schedule and a new invocation after a timeout all continue the same switchover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.failover.aws_io import MoveOutcome, describe_eni, move_eni, observe
from functions.failover.handover import HANDOVER_REFRESH_SECONDS, WorkerHandOver
from functions.failover.holder_wait import NEVER, WAITING, WaitMarks, group_templates, leaving
from functions.failover.query_ids import PendingSubmissions
from functions.failover.rules import Coordinator, Observation, Probe
from functions.shared.lambda_support import (
    AWS_ERRORS,
    AwsErrorKind,
    Clock,
    EnvReader,
    aws_error_fields,
    aws_error_kind,
    log_line,
)
from node_agent.aws import put_metric
from node_agent.contract import TAG_SWITCHOVER_SINCE, FunctionEnv, Metric

FUNCTION = "failover"
QUIET_POLL_SECONDS = 0.25  # a gap between two queries shorter than this is missed
SAFETY_MARGIN_SECONDS = 25.0  # kept for the move: detach, wait for available, attach, complete
DETACH_WAIT_SECONDS = 15.0
RETURNED = "returned"  # the move found a query begun on the holder and put the ENI back
# The quiet look's window is renewed this often while queries run, well inside the 15 minutes
# Trino keeps a finished query listed (query.min-expire-age), so every id in it is accounted for.
WINDOW_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class SwitchoverConfig:
    hook_name: str
    quiet_wait_seconds: int = 300
    standby_wait_seconds: int = 3600

    @classmethod
    def from_env(cls, env: EnvReader) -> SwitchoverConfig | None:
        """None when the stack gives no hook (a function deployed before rollouts existed)."""
        name = env.text(FunctionEnv.SWITCHOVER_HOOK_NAME, "")
        if not name:
            return None
        config = cls(
            hook_name=name,
            quiet_wait_seconds=env.integer(
                FunctionEnv.SWITCHOVER_QUIET_WAIT_SECONDS, 300, minimum=0, maximum=3600
            ),
            standby_wait_seconds=env.integer(
                FunctionEnv.SWITCHOVER_STANDBY_WAIT_SECONDS, 3600, minimum=60, maximum=30000
            ),
        )
        env.check()  # raises ConfigError naming every bad variable
        return config


@dataclass(frozen=True)
class SwitchoverResult:
    instance_id: str
    outcome: str  # released | moved | moved_not_quiet | released_without_standby | waiting_* | ...
    target: str | None = None


class Switchover:
    """Run the switchover for every coordinator held by the hook, for as long as this invocation may."""

    def __init__(
        self,
        group_name: str,
        eni_id: str,
        cluster: str,
        config: SwitchoverConfig,
        *,
        ec2: Any,
        autoscaling: Any,
        cloudwatch: Any,
        probe: Callable[[str, str], Probe],
        active_queries: Callable[[str], int],
        remaining_seconds: Callable[[], float],
        hand_over_workers: Callable[[str, str], int] | None = None,
        active_workers: Callable[[str], int] | None = None,
        submission_mark: Callable[[str], str] | None = None,
        listed_queries: Callable[[str], set[str]] | None = None,
        clock: Clock | None = None,
        log: Callable[..., Any] = log_line,
        trigger: str = "",
    ) -> None:
        self.group_name, self.eni_id, self.cluster, self.config = group_name, eni_id, cluster, config
        self.ec2, self.autoscaling, self.cloudwatch = ec2, autoscaling, cloudwatch
        self.probe = probe  # (instance id, address) -> Probe, the failover's own probe
        self.active_queries = active_queries  # address -> queries a client still waits on
        # address -> a fresh query id from its sequence / the ids it lists (both or neither)
        self.submission_mark, self.listed_queries = submission_mark, listed_queries
        self.remaining_seconds = remaining_seconds
        self._submissions = PendingSubmissions()  # carried across looks; the marks' own ids left out
        self.clock = clock or Clock()
        self._log = log
        self.trigger = trigger
        # the target learns the holder's workers before the move (handover.py)
        self._handover = WorkerHandOver(
            hand_over_workers,
            active_workers,
            clock=self.clock,
            log=self.log,
            time_for_another_look=self._time_for_another_look,
        )

    def log(self, decision: str, **fields: Any) -> None:
        self._log(FUNCTION, decision, cluster=self.cluster, trigger=self.trigger, **fields)

    def run(self) -> list[SwitchoverResult]:
        """Release every leaving non-holder; then work on the holder until done or out of time."""
        observation = observe(self.ec2, self.autoscaling, self.eni_id, self.group_name)
        results = []
        holder = observation.holder
        for coordinator in leaving(observation):
            if holder is not None and coordinator.instance_id == holder.instance_id:
                continue
            outcome = self._complete(coordinator.instance_id, "released", "does not hold the address")
            results.append(SwitchoverResult(coordinator.instance_id, outcome))
        if holder is not None and holder.lifecycle_state == WAITING:
            results.append(self._switch_over(observation, holder))
        return results

    # --- the holder ------------------------------------------------------------------------
    def _switch_over(self, observation: Observation, holder: Coordinator) -> SwitchoverResult:
        iid = holder.instance_id
        marks = self._marks(iid)
        self._heartbeat(iid)
        while True:
            now = self.clock.now()
            target = self._healthy_standby(observation, holder)
            if target is None:
                if now - marks.since >= timedelta(seconds=self.config.standby_wait_seconds):
                    put_metric(self.cloudwatch, self.cluster, Metric.SWITCHOVERS_WITHOUT_STANDBY, 1)
                    outcome = self._complete(
                        iid,
                        "released_without_standby",
                        f"no healthy standby in {self.config.standby_wait_seconds} s; the address "
                        "goes with it and the failover attaches it to the first healthy coordinator",
                        level="error",
                    )
                    return SwitchoverResult(iid, outcome)
                if not self._time_for_another_look():
                    self.log("switchover_waiting_for_standby", instance=iid, since=marks.since.isoformat())
                    return SwitchoverResult(iid, "waiting_for_standby")
                self.clock.sleep(5.0)
                observation = observe(self.ec2, self.autoscaling, self.eni_id, self.group_name)
                continue
            standby_since = marks.standby_since
            if standby_since is None:
                standby_since = now
                self._remember(iid, WaitMarks(marks.since, standby_since))
            quiet_deadline = standby_since + timedelta(seconds=self.config.quiet_wait_seconds)
            result = self._move_when_quiet(observation, holder, target, quiet_deadline)
            if result is not None:
                return result
            self.log(
                "switchover_waiting_for_quiet", instance=iid, target=target, until=quiet_deadline.isoformat()
            )
            return SwitchoverResult(iid, "waiting_for_quiet", target)

    def _move_when_quiet(
        self, observation: Observation, holder: Coordinator, target: str, deadline: datetime
    ) -> SwitchoverResult | None:
        """Poll the holder's queries; move at the first quiet look, or at the deadline anyway.

        First the target learns the holder's workers, and keeps them while the wait lasts (the
        copied announcements expire like the workers' own), so it serves from its first query.
        """
        address = holder.address or ""
        target_address = observation.coordinators[target].address or ""
        handed_at = self._handover.begin(holder.instance_id, address, target, target_address)
        # A query submitted, not yet dispatched, is in no listing: a look is quiet only if no id
        # allocated since the last mark (the window), nor one seen so before (a client may follow
        # its nextUri looks later), is unlisted. The window opens before the first look.
        window, window_at = self._mark(address), self.clock.monotonic()
        while True:
            if handed_at is not None and self.clock.monotonic() - handed_at >= HANDOVER_REFRESH_SECONDS:
                handed_at = self._handover.refresh(address, target_address)
            active = self._active(address)
            if active == 0 or self.clock.monotonic() - window_at >= WINDOW_REFRESH_SECONDS:
                mark = self._mark(address)
                pending = self._unlisted(address, window, mark)
                if pending is not None or window is None:  # a look that failed keeps its window
                    window, window_at = mark, self.clock.monotonic()
                if active == 0 and pending == []:
                    result = self._move(observation, holder, target, quiet=True, active=0, mark=mark)
                    if result.outcome != RETURNED:
                        return result
                    # Back on the holder with a new attachment. The window stays at this look's
                    # mark: the query that raced the move may not be dispatched yet at the next look.
                    self._submissions.restart_grace(self.clock.monotonic())
                    observation = observe(self.ec2, self.autoscaling, self.eni_id, self.group_name)
                    continue
                if active == 0:  # undispatched queries wait, or (no mark or listing) may
                    active = len(pending) if pending else 1
            if self.clock.now() >= deadline:
                return self._move(observation, holder, target, quiet=False, active=active)
            if not self._time_for_another_look(QUIET_POLL_SECONDS):
                return None
            self.clock.sleep(QUIET_POLL_SECONDS)

    def _move(
        self,
        observation: Observation,
        holder: Coordinator,
        target: str,
        *,
        quiet: bool,
        active: int,
        mark: str | None = None,
    ) -> SwitchoverResult:
        iid = holder.instance_id
        started = self.clock.monotonic()
        # A quiet look and the detach are two steps: a query can reach the holder between them.
        # Once the ENI is free nothing new can, so the holder is asked again then (keep_holder).
        keep_holder = (lambda: self._began_during_move(holder.address or "", mark)) if quiet else None
        result = move_eni(
            self.ec2, observation.eni, target, wait_available=self._wait_available, keep_holder=keep_holder
        )
        seconds = round(self.clock.monotonic() - started, 3)
        if result.outcome is MoveOutcome.RETURNED:
            self.log(
                "switchover_move_returned",
                level="warning",
                instance=iid,
                target=target,
                move_seconds=seconds,
                reason=f"{result.detail}; the address went back to the holder, whose clients retry "
                "the requests the move interrupted, and the switchover waits for the next quiet moment",
            )
            return SwitchoverResult(iid, RETURNED, target)
        if result.outcome not in (MoveOutcome.MOVED, MoveOutcome.ALREADY_MOVED, MoveOutcome.LOST_RACE):
            self.log("switchover_move_failed", instance=iid, target=target, detail=result.detail)
            return SwitchoverResult(iid, "move_failed", target)
        if quiet:
            self.log("switchover_moved", instance=iid, target=target, move_seconds=seconds, active_queries=0)
        else:
            put_metric(self.cloudwatch, self.cluster, Metric.SWITCHOVERS_NOT_QUIET, 1)
            self.log(
                "switchover_not_quiet",
                level="warning",
                instance=iid,
                target=target,
                move_seconds=seconds,
                active_queries=active,
                reason=f"no moment without queries in {self.config.quiet_wait_seconds} s; "
                f"moved anyway, {active} queries on the old coordinator fail",
            )
        # The move's line above is this switchover's record: one line per event, not two.
        outcome = self._complete(
            iid, "moved" if quiet else "moved_not_quiet", f"address now on {target}", announce=False
        )
        return SwitchoverResult(iid, outcome, target)

    def _healthy_standby(self, observation: Observation, holder: Coordinator) -> str | None:
        current, versions = group_templates(self.autoscaling, self.group_name)
        candidates = [
            c
            for c in observation.coordinators.values()
            if c.instance_id != holder.instance_id and c.can_serve and c.lifecycle_state == "InService"
        ]
        # On the group's current template first, then the newest: the one a refresh just launched.
        candidates.sort(
            key=lambda c: (
                current is not None and versions.get(c.instance_id) == current,
                c.launched_at or NEVER,
            ),
            reverse=True,
        )
        for candidate in candidates:
            probe = self.probe(candidate.instance_id, str(candidate.address))
            if probe.healthy:
                return candidate.instance_id
            self.log("switchover_standby_not_ready", instance=candidate.instance_id, reason=probe.reason)
        return None

    def _began_during_move(self, address: str, mark: str | None) -> str | None:
        """Why the ENI must go back to the holder: a query a client waits on began there meanwhile.

        Either dispatched and running (listed), or submitted and not yet dispatched: its client
        got the POST's answer and has not followed its nextUri yet, which now leads to the target,
        where the query is unknown. Those are found by the id sequence: an id allocated between
        the mark taken at the quiet look and one taken now that the holder does not list.
        """
        active = self._active(address)
        if active:
            return f"{active} queries began on the holder during the move"
        if self.submission_mark is None:
            return None
        unlisted = self._unlisted(address, mark, self._mark(address))
        if unlisted is None:
            return "the holder gave no mark or listing: a query submitted in the move is not ruled out"
        if unlisted:
            return f"{len(unlisted)} queries were submitted to the holder during the move, not yet dispatched"
        return None

    def _unlisted(self, address: str, first: str | None, last: str | None) -> list[str] | None:
        """Ids the holder allocated between two marks, or seen so before, and does not list: submitted,
        not dispatched (but for ones no client follows: logged once, then left out). None when that
        cannot be known (no mark or listing: the holder did not answer), so not quiet; [] when no
        submission_mark is configured."""
        if self.submission_mark is None:
            return []
        if first is None or last is None:
            return None
        try:
            listed = self.listed_queries(address) if self.listed_queries else set()
        except Exception as exc:  # the holder did not answer: unknown, so not quiet
            self.log("switchover_holder_unreachable", address=address, reason=str(exc))
            return None
        pending, given_up = self._submissions.look(first, last, set(listed), self.clock.monotonic())
        if given_up:
            self.log(
                "switchover_submission_given_up",
                level="warning",
                address=address,
                queries=given_up,
                reason=f"submitted, not dispatched in {self._submissions.grace_seconds:.0f} s: no client "
                "follows it (its answer was lost with a connection the move reset, or its client left)",
            )
        return pending

    def _mark(self, address: str) -> str | None:
        if self.submission_mark is None:
            return None
        try:
            mark = self.submission_mark(address)
        except Exception as exc:  # the holder stopped answering: nothing left to protect on it
            self.log("switchover_holder_unreachable", address=address, reason=str(exc))
            return None
        self._submissions.own.add(mark)
        return mark

    # --- AWS -------------------------------------------------------------------------------
    def _active(self, address: str) -> int:
        try:
            return self.active_queries(address)
        except Exception as exc:  # the holder stopped answering: nothing left to protect on it
            self.log("switchover_holder_unreachable", address=address, reason=str(exc))
            return 0

    def _marks(self, instance_id: str) -> WaitMarks:
        answer = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        tags = {t["Key"]: t["Value"] for r in answer for i in r["Instances"] for t in i.get("Tags", [])}
        marks = WaitMarks.parse(tags.get(TAG_SWITCHOVER_SINCE, ""))
        if marks is None:
            marks = WaitMarks(self.clock.now(), None)
            self._remember(instance_id, marks)
            self.log("switchover_started", instance=instance_id, since=marks.since.isoformat())
        return marks

    def _remember(self, instance_id: str, marks: WaitMarks) -> None:
        self.ec2.create_tags(
            Resources=[instance_id], Tags=[{"Key": TAG_SWITCHOVER_SINCE, "Value": marks.text()}]
        )

    def _heartbeat(self, instance_id: str) -> None:
        try:
            self.autoscaling.record_lifecycle_action_heartbeat(
                LifecycleHookName=self.config.hook_name,
                AutoScalingGroupName=self.group_name,
                InstanceId=instance_id,
            )
        except AWS_ERRORS as exc:
            self.log("switchover_heartbeat_failed", instance=instance_id, **aws_error_fields(exc))

    def _complete(
        self, instance_id: str, outcome: str, reason: str, level: str = "info", *, announce: bool = True
    ) -> str:
        try:
            self.autoscaling.complete_lifecycle_action(
                LifecycleHookName=self.config.hook_name,
                AutoScalingGroupName=self.group_name,
                InstanceId=instance_id,
                LifecycleActionResult="CONTINUE",
            )
        except AWS_ERRORS as exc:
            if aws_error_kind(exc) is not AwsErrorKind.INVALID:
                raise
            # "No active Lifecycle Action found": another invocation (a second event) finished it.
            self.log("switchover_already_completed", instance=instance_id, **aws_error_fields(exc))
            return "already_completed"
        if announce:
            self.log(f"switchover_{outcome}", level=level, instance=instance_id, reason=reason)
        return outcome

    def _time_for_another_look(self, pause: float = 5.0) -> bool:
        return self.remaining_seconds() - pause >= SAFETY_MARGIN_SECONDS

    def _wait_available(self) -> bool:
        deadline = self.clock.monotonic() + DETACH_WAIT_SECONDS
        while not describe_eni(self.ec2, self.eni_id).unattached:
            if self.clock.monotonic() >= deadline:
                return False
            self.clock.sleep(0.25)
        return True
