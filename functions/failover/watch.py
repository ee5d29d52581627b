"""One failover invocation: watch the ENI holder for most of a minute and act on the rules.

A schedule starts the function every minute; each invocation probes every PROBE_INTERVAL_SECONDS
for PROBE_WINDOW_SECONDS, so a dead coordinator is seen within one interval instead of at the next
minute. A failure streak that is still open when the window ends is followed to its verdict as
long as the Lambda clock allows, so a death late in the window is not forgotten. The streak itself
lives only in this invocation: a new one starts at zero, which errs towards not moving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from functions.failover.aws_io import (
    MoveOutcome,
    MoveResult,
    attach_eni,
    describe_eni,
    mark_unhealthy,
    move_eni,
    observe,
)
from functions.failover.rules import (
    Action,
    Decision,
    Observation,
    Probe,
    decide,
    instances_to_probe,
    next_refusals,
    next_streaks,
    standbys_to_replace,
)
from functions.shared.lambda_support import (
    AWS_ERRORS,
    AwsErrorKind,
    Clock,
    EnvReader,
    TrinoAccess,
    aws_error_fields,
    aws_error_kind,
    log_line,
)
from node_agent.aws import put_metric
from node_agent.contract import FunctionEnv, Metric
from node_agent.trino.admin import TrinoError, TrinoUnavailable
from node_agent.trino.health import probe_coordinator

__all__ = ["FailoverConfig", "FailoverWatch", "WatchResult", "probe_coordinator"]

FUNCTION = "failover"
# A copy of the workers fails on Trino's side, or on reading the shared secret; neither stops a run.
HANDOVER_ERRORS = (TrinoError, TrinoUnavailable, *AWS_ERRORS)
# The ENI is loose after these: the next round attaches it to a healthy coordinator.
LOOSE = (MoveOutcome.DETACH_STUCK, MoveOutcome.ATTACH_FAILED)
ATTACH_RESERVE_SECONDS = 5.0  # kept for marking the old holder and the metric after the last attach try
# Kept back from the Lambda timeout for the last round's action: re-describe, detach, wait for
# the ENI to become available, attach, mark the old holder, publish the metric.
SAFETY_MARGIN_SECONDS = 25.0
REFUSED_RETRY_SECONDS = 1.0  # next probe after a refused one: a dead holder is confirmed within a second
DETACH_WAIT_SECONDS = 15.0
DETACH_POLL_SECONDS = 0.5
ATTACH_RETRY_SECONDS = 1.0  # first pause before retrying a throttled attach; doubles, up to 8 s
# A healthy standby gets the holder's worker announcements this often (Trino's discovery store
# keeps a copy 30 s), so after a failover it schedules on them from its first query.
STANDBY_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class FailoverConfig:
    cluster: str
    eni_id: str
    group_name: str
    failed_probes: int = 3
    probe_interval: float = 5.0
    probe_window: float = 45.0
    unresponsive_seconds: float = 20.0  # the holder fails this long (and failed_probes times) to lose it
    grace_seconds: int = 600  # a new standby is not replaced for failing its probes this long
    trino: TrinoAccess = field(default_factory=TrinoAccess)

    @classmethod
    def from_env(cls, env: EnvReader) -> FailoverConfig:
        config = cls(
            cluster=env.text(FunctionEnv.CLUSTER),
            eni_id=env.text(FunctionEnv.COORDINATOR_ENI_ID),
            group_name=env.text(FunctionEnv.COORDINATOR_ASG_NAME),
            failed_probes=env.integer(FunctionEnv.FAILED_PROBES, 3, minimum=1, maximum=20),
            probe_interval=env.number(FunctionEnv.PROBE_INTERVAL_SECONDS, 5.0, minimum=0.5, maximum=60),
            probe_window=env.number(FunctionEnv.PROBE_WINDOW_SECONDS, 45.0, minimum=0, maximum=840),
            unresponsive_seconds=env.number(FunctionEnv.UNRESPONSIVE_SECONDS, 20.0, minimum=0, maximum=600),
            grace_seconds=env.integer(FunctionEnv.GRACE_PERIOD_SECONDS, 600, minimum=0, maximum=86400),
            trino=TrinoAccess.from_env(
                env,
                timeout_seconds=env.number(FunctionEnv.PROBE_TIMEOUT_SECONDS, 3.0, minimum=0.5, maximum=30),
            ),
        )
        env.check()
        return config


@dataclass
class WatchResult:
    outcome: str
    rounds: int
    decision: str | None = None
    holder: str | None = None
    target: str | None = None


class FailoverWatch:
    """Probe, decide, act; repeat until the window closes, the ENI moves, or time runs short."""

    def __init__(
        self,
        config: FailoverConfig,
        *,
        ec2: Any,
        autoscaling: Any,
        cloudwatch: Any,
        probe: Callable[[str, str], Probe],
        remaining_seconds: Callable[[], float],
        hand_over_workers: Callable[[str, str], int] | None = None,
        clock: Clock | None = None,
        log: Callable[..., Any] = log_line,
        trigger: str = "",
    ) -> None:
        self.config = config
        # (holder address, standby address) -> workers announced to the standby; None: no secret
        self.hand_over_workers = hand_over_workers
        self._warmed_at: dict[str, float] = {}  # standby -> when it last got the holder's workers
        self._warm_logged: set[str] = set()
        self.ec2, self.autoscaling, self.cloudwatch = ec2, autoscaling, cloudwatch
        self.probe = probe  # (instance id, address) -> Probe
        self.remaining_seconds = remaining_seconds
        self.clock = clock or Clock()
        self._log = log
        self.trigger = trigger
        self.streaks: dict[str, int] = {}
        self.refusals: dict[str, int] = {}
        self.failing_since: dict[str, float] = {}  # instance -> start of its first failed probe in a row
        self.marked: set[str] = set()

    def log(self, decision: str, **fields: Any) -> None:
        self._log(FUNCTION, decision, cluster=self.config.cluster, trigger=self.trigger, **fields)

    def run(self) -> WatchResult:
        start = self.clock.monotonic()
        rounds = 0
        last: tuple[Action, str | None] | None = None
        decision: Decision | None = None
        while True:
            round_start = self.clock.monotonic()
            rounds += 1
            observation = observe(self.ec2, self.autoscaling, self.config.eni_id, self.config.group_name)
            probes = self._probe_all(observation)
            self.streaks = next_streaks(self.streaks, probes)
            self.refusals = next_refusals(self.refusals, probes)
            self.failing_since = {
                iid: self.failing_since.get(iid, round_start) for iid, p in probes.items() if not p.healthy
            }
            decision = decide(
                observation,
                probes,
                self.streaks,
                self.config.failed_probes,
                failing_seconds={iid: round_start - since for iid, since in self.failing_since.items()},
                unresponsive_seconds=self.config.unresponsive_seconds,
                refused=self.refusals,
            )
            self._replace_sick_standbys(observation, probes)
            if decision.action is Action.KEEP:
                self._keep_standbys_warm(observation, probes, decision.holder)
            if decision.action in (Action.MOVE, Action.ATTACH):
                result = self._act(observation, decision)
                if result is not None:
                    return WatchResult(
                        result.outcome.value,
                        rounds,
                        decision.action.value,
                        decision.holder,
                        result.eni_holder,
                    )
            elif decision.action is Action.WAIT or (decision.action, decision.holder) != last:
                self.log(
                    decision.action.value,
                    reason=decision.reason,
                    holder=decision.holder,
                    failures=decision.failures,
                    round=rounds,
                )
                last = (decision.action, decision.holder)
            if not self._another_round(start, decision):
                break
            interval = self.config.probe_interval
            if decision.holder is not None and self.refusals.get(decision.holder):
                interval = min(interval, REFUSED_RETRY_SECONDS)  # confirm a dead holder soon
            self.clock.sleep(round_start + interval - self.clock.monotonic())
        self.log(
            "watch_ended",
            holder=decision.holder,
            last_decision=decision.action.value,
            rounds=rounds,
            reason=decision.reason,
        )
        return WatchResult("watched", rounds, decision.action.value, decision.holder)

    def _another_round(self, start: float, decision: Decision) -> bool:
        if self.remaining_seconds() - self.config.probe_interval < SAFETY_MARGIN_SECONDS:
            return False
        in_window = self.clock.monotonic() - start + self.config.probe_interval < self.config.probe_window
        # An open failure streak is followed to its verdict even past the window.
        return in_window or decision.action is Action.WAIT

    def _keep_standbys_warm(
        self, observation: Observation, probes: Mapping[str, Probe], holder: str | None
    ) -> None:
        """Copy the healthy holder's workers to each healthy standby, every STANDBY_REFRESH_SECONDS.

        After a crash the holder's announcements are gone with it, and the new holder would know
        the workers only once they announce to it after the move and it has polled them (most of
        the 11.0 s on 483 and 15.9 s on 476 measured from a kill to a served query); with the
        copies it counts them active already. A failed copy is logged once per run and changes
        nothing else: the workers announce to the new holder after a move, as they did before.
        """
        if self.hand_over_workers is None or holder is None:
            return
        source = observation.coordinators[holder].address
        for iid, standby in observation.coordinators.items():
            probe = probes.get(iid)
            if iid == holder or not source or not standby.address or probe is None or not probe.healthy:
                continue
            if (
                self.clock.monotonic() - self._warmed_at.get(iid, -STANDBY_REFRESH_SECONDS)
                < STANDBY_REFRESH_SECONDS
            ):
                continue
            try:
                workers = self.hand_over_workers(source, standby.address)
            except HANDOVER_ERRORS as exc:
                if iid not in self._warm_logged:
                    self._warm_logged.add(iid)
                    self.log("standby_not_kept_warm", level="warning", standby=iid, reason=str(exc))
                continue
            self._warmed_at[iid] = self.clock.monotonic()
            if iid not in self._warm_logged:
                self._warm_logged.add(iid)
                self.log("standby_kept_warm", standby=iid, holder=holder, workers=workers)

    def _probe_all(self, observation: Observation) -> dict[str, Probe]:
        probes = {}
        for iid, address in instances_to_probe(observation).items():
            probes[iid] = self.probe(iid, address) if address else Probe(False, "no private address")
        return probes

    def _act(self, observation: Observation, decision: Decision) -> MoveResult | None:
        """Carry out MOVE or ATTACH; None means the ENI is loose and the next round should retry.

        Once a move has detached the ENI, the old holder is marked for replacement whatever
        happens to the attach: it failed its probes and no longer holds the address.
        """
        target = decision.target
        assert target is not None
        if decision.action is Action.MOVE:
            result = move_eni(
                self.ec2,
                observation.eni,
                target,
                wait_available=self._wait_available,
                attach=lambda step: self._attach_with_retries(step, detached=True),
            )
        else:
            result = self._attach_with_retries(lambda: attach_eni(self.ec2, self.config.eni_id, target))
        self.log(
            result.outcome.value,
            reason=decision.reason,
            holder=decision.holder,
            target=decision.target,
            eni_holder=result.eni_holder,
            failures=decision.failures,
            detail=result.detail,
        )
        old = observation.holder
        if result.detached and old is not None and old.in_group:
            self._mark(old.instance_id, f"lost the ENI: {decision.reason}")
        if result.outcome in (MoveOutcome.MOVED, MoveOutcome.ATTACHED):
            put_metric(self.cloudwatch, self.config.cluster, Metric.COORDINATOR_FAILOVERS, 1)
            return result
        if result.outcome in LOOSE:
            return None
        return result

    def _attach_with_retries(self, attach: Callable[[], MoveResult], *, detached: bool = False) -> MoveResult:
        """Run `attach`, retrying a throttled or failed AWS call while the run's clock allows.

        A throttle right after a detach would otherwise leave the address attached to nothing
        until the next invocation (up to a minute); the attach itself is safe to repeat (EC2
        refuses a second attachment, which `attach` reports as a lost race).
        """
        pause = ATTACH_RETRY_SECONDS
        while True:
            try:
                return attach()
            except AWS_ERRORS as exc:
                if aws_error_kind(exc) is AwsErrorKind.DENIED:
                    return MoveResult(
                        MoveOutcome.ATTACH_FAILED, None, f"attach denied: {exc}", detached=detached
                    )
                if self.remaining_seconds() - pause < ATTACH_RESERVE_SECONDS:
                    return MoveResult(
                        MoveOutcome.ATTACH_FAILED,
                        None,
                        f"attach failed, no time left to retry: {exc}",
                        detached=detached,
                    )
                self.log("attach_retry", reason=str(exc), pause=pause, **aws_error_fields(exc))
                self.clock.sleep(pause)
                pause = min(pause * 2, 8.0)

    def _replace_sick_standbys(self, observation: Observation, probes: Mapping[str, Probe]) -> None:
        sick = standbys_to_replace(
            observation,
            probes,
            self.streaks,
            failed_probes=self.config.failed_probes,
            grace=timedelta(seconds=self.config.grace_seconds),
            now=self.clock.now(),
        )
        for iid in sick:
            if iid not in self.marked:
                self._mark(iid, f"standby failed {self.streaks[iid]} probes in a row: {probes[iid].reason}")

    def _mark(self, instance_id: str, reason: str) -> None:
        try:
            mark_unhealthy(self.autoscaling, instance_id)
        except AWS_ERRORS as exc:
            # The ENI decision stands; the instance may already be gone or the call denied.
            self.log("mark_unhealthy_failed", instance=instance_id, reason=reason, **aws_error_fields(exc))
            return
        self.marked.add(instance_id)
        self.log("marked_unhealthy", instance=instance_id, reason=reason)

    def _wait_available(self) -> bool:
        deadline = self.clock.monotonic() + DETACH_WAIT_SECONDS
        while True:
            if describe_eni(self.ec2, self.config.eni_id).unattached:
                return True
            if self.clock.monotonic() >= deadline:
                return False
            self.clock.sleep(DETACH_POLL_SECONDS)
