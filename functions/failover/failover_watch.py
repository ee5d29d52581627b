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

from failover_aws import MoveOutcome, MoveResult, attach_eni, describe_eni, mark_unhealthy, move_eni, observe
from failover_rules import (
    Action,
    Decision,
    Observation,
    Probe,
    decide,
    instances_to_probe,
    next_streaks,
    standbys_to_replace,
)

from functions.shared.lambda_support import (
    AWS_ERRORS,
    Clock,
    EnvReader,
    TrinoAccess,
    aws_error_fields,
    log_line,
    put_count,
)
from node_agent.contract import FunctionEnv, Metric
from node_agent.trino import TrinoAdmin, TrinoError, TrinoUnavailable

FUNCTION = "failover"
# Kept back from the Lambda timeout for the last round's action: re-describe, detach, wait for
# the ENI to become available, attach, mark the old holder, publish the metric.
SAFETY_MARGIN_SECONDS = 25.0
DETACH_WAIT_SECONDS = 15.0
DETACH_POLL_SECONDS = 0.5
PROBE_SQL = "EXPLAIN SELECT 1"  # planned by the coordinator alone: needs no worker and no catalog


@dataclass(frozen=True)
class FailoverConfig:
    cluster: str
    eni_id: str
    group_name: str
    failed_probes: int = 3
    probe_interval: float = 5.0
    probe_window: float = 55.0
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
            probe_window=env.number(FunctionEnv.PROBE_WINDOW_SECONDS, 55.0, minimum=0, maximum=840),
            grace_seconds=env.integer(FunctionEnv.GRACE_PERIOD_SECONDS, 600, minimum=0, maximum=86400),
            trino=TrinoAccess.from_env(
                env,
                timeout_seconds=env.number(FunctionEnv.PROBE_TIMEOUT_SECONDS, 3.0, minimum=0.5, maximum=30),
            ),
        )
        env.check()
        return config


def probe_coordinator(admin: TrinoAdmin) -> Probe:
    """Healthy = answers /v1/info, is a coordinator that finished starting, and plans a query.

    An open port or `starting: false` alone is not enough: a coordinator whose planner or access
    control is broken answers /v1/info but cannot run a single user query.
    """
    try:
        info = admin.info()
    except TrinoUnavailable as exc:
        return Probe(False, f"unreachable: {exc}")
    except TrinoError as exc:
        return Probe(False, f"/v1/info failed: {exc}")
    if not isinstance(info, dict):
        return Probe(False, f"/v1/info answered {info!r}, not an object")
    if info.get("starting", True):
        return Probe(False, "starting")
    if info.get("coordinator") is False:
        return Probe(False, "answers, but is not a coordinator")
    try:
        admin.query(PROBE_SQL, deadline_seconds=admin.timeout)
    except (TrinoUnavailable, TrinoError) as exc:
        return Probe(False, f"cannot plan a query: {exc}")
    return Probe(True, "healthy")


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
        clock: Clock | None = None,
        log: Callable[..., Any] = log_line,
        trigger: str = "",
    ) -> None:
        self.config = config
        self.ec2, self.autoscaling, self.cloudwatch = ec2, autoscaling, cloudwatch
        self.probe = probe  # (instance id, address) -> Probe
        self.remaining_seconds = remaining_seconds
        self.clock = clock or Clock()
        self._log = log
        self.trigger = trigger
        self.streaks: dict[str, int] = {}
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
            decision = decide(observation, probes, self.streaks, self.config.failed_probes)
            self._replace_sick_standbys(observation, probes)
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
            self.clock.sleep(round_start + self.config.probe_interval - self.clock.monotonic())
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

    def _probe_all(self, observation: Observation) -> dict[str, Probe]:
        probes = {}
        for iid, address in instances_to_probe(observation).items():
            probes[iid] = self.probe(iid, address) if address else Probe(False, "no private address")
        return probes

    def _act(self, observation: Observation, decision: Decision) -> MoveResult | None:
        """Carry out MOVE or ATTACH; None means the ENI is loose and the next round should retry."""
        assert decision.target is not None
        if decision.action is Action.MOVE:
            result = move_eni(self.ec2, observation.eni, decision.target, wait_available=self._wait_available)
        else:
            result = attach_eni(self.ec2, self.config.eni_id, decision.target)
        self.log(
            result.outcome.value,
            reason=decision.reason,
            holder=decision.holder,
            target=decision.target,
            eni_holder=result.eni_holder,
            failures=decision.failures,
            detail=result.detail,
        )
        if result.outcome in (MoveOutcome.DETACH_STUCK, MoveOutcome.ATTACH_FAILED):
            return None
        if result.outcome in (MoveOutcome.MOVED, MoveOutcome.ATTACHED):
            put_count(self.cloudwatch, self.config.cluster, Metric.COORDINATOR_FAILOVERS, 1)
            old = observation.holder
            if decision.action is Action.MOVE and old is not None and old.in_group:
                self._mark(old.instance_id, f"lost the ENI: {decision.reason}")
        return result

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
