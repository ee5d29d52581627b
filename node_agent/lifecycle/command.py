"""`node-agent lifecycle`: take this worker out of service without killing a running query.

The Auto Scaling group's termination hook holds the instance in Terminating:Wait and IMDS shows
target-lifecycle-state = Terminated. The agent then asks the local Trino to shut down gracefully
(PUT /v1/info/state "SHUTTING_DOWN" as the management user), sends lifecycle heartbeats while
Trino finishes its tasks, and completes the action with CONTINUE as soon as the Trino process has
exited. A spot interruption notice starts the drain at once (two minutes is all there is). When
the configured maximum drain time is reached, or Trino is already dead, it completes at once and
says why.

Crash safety: each step is written to a state file before and after it acts, so a restarted
agent resumes the drain (same start time, no second PUT) instead of starting over. A dead agent
cannot hold an instance forever: the hook's heartbeat timeout and default result end the wait.

Faults a fleet meets, and the answer to each:
- Trino restarted mid-drain (a crash, `Restart=on-failure`): it comes back ACTIVE and would take
  new work. The agent reads Trino's state on every step and asks again; trino.service also refuses
  to start while a drain record exists (`node-agent lifecycle --may-start`, see drain_state).
- IMDS unavailable mid-drain: the drain goes on, heartbeats included, on the last target state
  IMDS showed (kept in the record, so also across an agent restart).
- Shutdown refused (401/403: a wrong management user or access rule): retried with exponential
  backoff up to REFUSED_BACKOFF_MAX seconds, each refusal counted in Metric.SHUTDOWN_REFUSED,
  which an alarm watches; heartbeats go on meanwhile, so the maximum drain time still applies.

Every decision is one JSON line on stdout: instance, state, decision, reason, elapsed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from node_agent import aws, node_config
from node_agent.contract import AGENT_STATE_DIR, TRINO_DATA, TRINO_HTTP_PORT, Metric
from node_agent.imds import IMDS_URL, Imds, ImdsError, retried
from node_agent.lifecycle.action import RETRYABLE, ActionGone, LifecycleAction, describe
from node_agent.lifecycle.drain_state import STATE_FILE, DrainRecord, StateStore, drain_begun
from node_agent.lifecycle.heartbeats import TIMEOUT_INTERVALS, HeartbeatSchedule, first_delay
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable
from node_agent.trino.process import TrinoProcess, trino_alive

TERMINATED = "Terminated"
# A worker terminated out of the warm pool passes the same hook; it never ran Trino, so it
# completes at once rather than holding the instance for the heartbeat timeout.
TERMINATING_TARGETS = (TERMINATED, "Warmed:Terminated")
MAX_HOOK_SECONDS = 48 * 3600  # AWS's global timeout for one lifecycle action
SHUTTING_DOWN = "SHUTTING_DOWN"
REFUSED_STATUSES = (401, 403)  # the management user or its access rule is wrong: not transient
REFUSED_BACKOFF_MAX = 300.0  # seconds between shutdown requests once refusals persist


# --- the decision loop ----------------------------------------------------------------------
class LocalTrino(Protocol):
    """What the agent needs from its Trino (node_agent.trino.admin.TrinoAdmin on a node)."""

    def state(self) -> str: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class LifecycleConfig:
    cluster: str
    instance_id: str
    hook_name: str = ""  # empty: the group's one termination hook
    max_drain_seconds: float = 6 * 3600
    heartbeat_interval: float = 100.0  # a third of the hook's heartbeat timeout
    first_heartbeat_delay: float = 0.0  # heartbeats.first_delay() on a node: a fleet's drains spread
    idle_interval: float = 5.0  # how often IMDS is polled while nothing happens
    drain_interval: float = 1.0  # how often the Trino process is checked while draining


class LifecycleAgent:
    def __init__(
        self,
        *,
        config: LifecycleConfig,
        imds: Imds,
        autoscaling: Any,
        cloudwatch: Any,
        trino: LocalTrino,
        trino_running: Callable[[], bool],
        store: StateStore,
        clock: Callable[[], float] = time.time,
        out: TextIO | None = None,
    ) -> None:
        self.config = config
        self.imds = imds
        self.autoscaling = autoscaling
        self.cloudwatch = cloudwatch
        self.trino = trino
        self.trino_running = trino_running
        self.store = store
        self.clock = clock
        self.out = out or sys.stdout
        self.record = store.load(config.instance_id)
        self._target: str | None = self.record.target_state if self.record else None
        self._imds_down = False
        self._failed_shutdowns = 0  # answered failures in a row, for the backoff
        self._next_shutdown_at = 0.0  # clock time before which no shutdown request is sent
        self.action = LifecycleAction(autoscaling, config.instance_id, config.hook_name)
        # The spread never puts the first heartbeat later than one interval after the group began
        # the termination (the drain starts up to idle_interval after it): a short heartbeat
        # timeout gets its first heartbeat at once, as before the spread.
        first = min(config.first_heartbeat_delay, max(0.0, config.heartbeat_interval - config.idle_interval))
        self.heartbeats = HeartbeatSchedule(config.heartbeat_interval, first, seed=config.instance_id)
        self._said: set[str] = set()
        if store.problem:
            self.decide("state-unreadable", store.problem)
        if self.record and not self.record.completed:
            self.decide(
                "resume", f"drain in progress since {_iso(self.record.started_at)} ({self.record.reason})"
            )

    # one pass of the loop; returns how long to wait before the next
    def step(self) -> float:
        if self.record and self.record.completed:
            return self.config.idle_interval  # done: the group terminates the instance
        try:
            target = self.imds.target_lifecycle_state()
            spot = self.imds.spot_instance_action() if self.record is None else None
        except ImdsError as exc:
            if not self._imds_down:
                self._imds_down = True
                going_on = f"; draining on the last known state {self._target}" if self.record else ""
                self.decide("imds-unavailable", f"cannot read instance metadata: {exc}{going_on}")
            if self.record is None:
                return self.config.idle_interval
            self._drain()
            return self.config.drain_interval
        if self._imds_down:
            self._imds_down = False
            self.decide("imds-available", f"instance metadata answers again: target state {target}")
        self._target = target
        if self.record and self.record.target_state != target:
            self.record.target_state = target
            self.store.save(self.record)
        if self.record is None:
            if self._target in TERMINATING_TARGETS:
                self._start(f"target lifecycle state is {self._target}")
            elif spot:
                self._start(f"spot interruption notice: {spot.get('action')} at {spot.get('time')}")
            else:
                self._note_rebalance()
                return self.config.idle_interval
        self._drain()
        return (
            self.config.idle_interval if self.record and self.record.completed else self.config.drain_interval
        )

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            stop.wait(self.step())

    # --- drain ---------------------------------------------------------------------------------
    def _start(self, reason: str) -> None:
        self.record = DrainRecord(
            instance_id=self.config.instance_id,
            reason=reason,
            started_at=self.clock(),
            target_state=self._target,
        )
        self.store.save(self.record)
        self.decide("drain", reason)

    def _drain(self) -> None:
        record = self.record
        assert record is not None
        terminating = self._target in TERMINATING_TARGETS
        running = self.trino_running()
        if running:
            self._keep_trino_shutting_down(record)
        if not running:
            why = "trino exited after draining" if record.shutdown_requested else "trino is not running"
            if terminating:
                self._complete(why)
            else:
                self.decide_once(
                    "wait-for-group", f"{why}; completing once the group terminates the instance"
                )
            return
        if self.elapsed() >= self.config.max_drain_seconds:
            if terminating:
                self._complete(
                    f"maximum drain time {self.config.max_drain_seconds:.0f}s reached, trino still running"
                )
            return
        if terminating and self.heartbeats.due(self.clock(), record.started_at, record.last_heartbeat_at):
            self._heartbeat(record)

    def _keep_trino_shutting_down(self, record: DrainRecord) -> None:
        """Ask for SHUTTING_DOWN whenever Trino is in any other state: before the first request,
        and again when a restarted Trino came back ACTIVE after one (SHUTTING_DOWN is one-way, so
        any other state means a new server). Read every step, so it takes work for a second at most.
        """
        if self.clock() < self._next_shutdown_at:
            return  # backing off after a refusal
        try:
            state = self.trino.state().strip('"')
        except TrinoUnavailable as exc:
            if not record.shutdown_requested:
                self.decide("shutdown-failed", f"{exc}; retrying")
            return  # once asked, an unanswered read is a Trino on its way out
        except TrinoError as exc:
            self._shutdown_failed(exc)
            return
        if state == SHUTTING_DOWN:
            if not record.shutdown_requested:
                self._requested(record, "trino is already shutting down (an earlier request)")
            return
        try:
            self.trino.shutdown()
        except TrinoUnavailable as exc:
            self.decide("shutdown-failed", f"{exc}; retrying")
            return
        except TrinoError as exc:
            self._shutdown_failed(exc)
            return
        record.shutdown_requests += 1
        self._requested(
            record,
            f"trino was {state} again (restarted mid-drain); asked it to shut down again"
            if record.shutdown_requested
            else "asked trino to shut down gracefully",
        )

    def _requested(self, record: DrainRecord, reason: str) -> None:
        self._failed_shutdowns = 0
        record.shutdown_requested = True
        self.store.save(record)
        self.decide("shutdown-requested", reason)

    def _shutdown_failed(self, exc: TrinoError) -> None:
        """Trino answered, but not with success: back off exponentially (2 s, 4 s, ... up to
        REFUSED_BACKOFF_MAX) instead of asking once a second for the whole drain. A refusal
        (401/403) is a misconfiguration no retry cures: it is counted in a metric for the alarm."""
        self._failed_shutdowns += 1
        delay = min(REFUSED_BACKOFF_MAX, 2.0**self._failed_shutdowns)
        self._next_shutdown_at = self.clock() + delay
        refused = exc.status in REFUSED_STATUSES
        self.decide(
            "shutdown-refused" if refused else "shutdown-failed",
            f"{exc}; attempt {self._failed_shutdowns}, next in {delay:.0f}s",
        )
        if refused:
            self._publish(Metric.SHUTDOWN_REFUSED, 1, "Count")

    def _heartbeat(self, record: DrainRecord) -> None:
        try:
            self.action.heartbeat()
        except ActionGone:
            self._finish("the lifecycle action is no longer active (timed out or completed elsewhere)")
            return
        except RETRYABLE as exc:
            retry_at = self.heartbeats.failed(self.clock(), record.started_at, record.last_heartbeat_at)
            self.decide("heartbeat-failed", f"{describe(exc)}; retrying in {retry_at - self.clock():.0f}s")
            return
        self.heartbeats.succeeded()
        record.last_heartbeat_at = self.clock()
        record.heartbeats += 1
        self.store.save(record)
        self.decide("heartbeat", f"trino still draining (heartbeat {record.heartbeats})")

    def _complete(self, reason: str) -> None:
        try:
            self.action.complete()
        except ActionGone:
            self._finish(f"{reason}; the lifecycle action was no longer active")
            return
        except RETRYABLE as exc:
            self.decide("complete-failed", f"{describe(exc)}; retrying")
            return
        self._finish(f"{reason}; completed the lifecycle action with CONTINUE")

    def _finish(self, reason: str) -> None:
        record = self.record
        assert record is not None
        elapsed = self.elapsed()
        record.completed = True
        record.completion_reason = reason
        self.store.save(record)
        self.decide("complete", reason)
        self._publish(Metric.WORKER_DRAIN_SECONDS, elapsed, "Seconds")

    def _publish(self, metric: Metric, value: float, unit: str) -> None:
        try:
            aws.put_metric(self.cloudwatch, self.config.cluster, metric, value, unit)
        except (ClientError, BotoCoreError) as exc:
            self.decide("metric-failed", f"cannot publish {metric}: {exc}")

    def _note_rebalance(self) -> None:
        try:
            notice = self.imds.rebalance_recommendation()
        except ImdsError:
            return
        if notice:
            self.decide_once(
                "rebalance-noted",
                f"rebalance recommended at {notice.get('noticeTime')}; the group decides, no drain yet",
            )

    # --- logging -------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self.record.started_at if self.record else 0.0

    def decide(self, decision: str, reason: str) -> None:
        line = {
            "time": _iso(self.clock()),
            "component": "lifecycle",
            "instance": self.config.instance_id,
            "state": self._target,
            "decision": decision,
            "reason": reason,
            "elapsed": round(self.elapsed(), 3),
        }
        self.out.write(json.dumps(line, sort_keys=True) + "\n")
        self.out.flush()

    def decide_once(self, decision: str, reason: str) -> None:
        if decision not in self._said:
            self._said.add(decision)
            self.decide(decision, reason)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


# --- command line ----------------------------------------------------------------------------
def build_config(settings: Any, instance_id: str) -> LifecycleConfig:
    """Timings from the node settings: heartbeats three times per heartbeat timeout."""
    interval = max(1.0, settings.heartbeat_timeout_seconds / TIMEOUT_INTERVALS)
    return LifecycleConfig(
        cluster=settings.cluster,
        instance_id=instance_id,
        hook_name=settings.lifecycle_hook_name,
        max_drain_seconds=min(settings.max_drain_seconds, MAX_HOOK_SECONDS),
        heartbeat_interval=interval,
        first_heartbeat_delay=first_delay(instance_id, interval),
    )


WARMED_PREFIX = "Warmed:"  # Warmed:Pending, Warmed:Stopped, Warmed:Running, Warmed:Terminated, ...
MAY_START, SKIP_START, FAIL_START = 0, 1, 255  # ExecCondition: 1-254 skip the start, 255 fails it
WARM_CHECK_ATTEMPTS = 10


def may_start(
    path: Path,
    imds: Imds,
    *,
    attempts: int = WARM_CHECK_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """trino.service's start condition: may this node start Trino now?

    Not once its drain has begun (see drain_state), and not while it sits in the group's warm pool
    (target lifecycle state `Warmed:*`): a warmed worker that joined Trino would be given tasks
    and then stopped by Auto Scaling under them. It boots into the pool once, renders its etc/,
    skips Trino and is stopped; its boot out of the pool (target InService) starts Trino.

    When IMDS cannot say after `attempts` tries (about 30 s), the start fails (255) rather than
    risk a warmed node in the cluster: systemd restarts the unit, and a worker that stays out is
    replaced by the worker-health function like any worker that never joins.
    """
    try:
        instance_id: str | None = imds.instance_id()
    except ImdsError:
        instance_id = None
    why = drain_begun(path, instance_id)
    if why is not None:
        print(f"node-agent lifecycle: not starting trino: {why}", file=sys.stderr)
        return SKIP_START
    try:
        target = retried(imds.target_lifecycle_state, attempts, sleep)
    except ImdsError as exc:
        print(
            f"node-agent lifecycle: not starting trino: cannot read the target lifecycle state "
            f"after {attempts} tries ({exc}); a warmed node must not join",
            file=sys.stderr,
        )
        return FAIL_START
    if target is not None and target.startswith(WARMED_PREFIX):
        print(
            f"node-agent lifecycle: not starting trino: target lifecycle state is {target} "
            "(in the warm pool; Trino starts when the instance leaves it)",
            file=sys.stderr,
        )
        return SKIP_START
    return MAY_START


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="node-agent lifecycle", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=None, help="node env file (default: the contract's)")
    parser.add_argument("--imds-url", default=IMDS_URL)
    parser.add_argument("--trino-url", default=f"http://127.0.0.1:{TRINO_HTTP_PORT}")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(TRINO_DATA), help="Trino's data dir (finds its JVM)"
    )
    parser.add_argument("--state-dir", type=Path, default=Path(AGENT_STATE_DIR))
    parser.add_argument(
        "--may-start",
        action="store_true",
        help="exit 0 if Trino may start; 1 once this node's drain has begun or while it is warmed; "
        "255 when IMDS cannot say (trino.service ExecCondition)",
    )
    args = parser.parse_args(argv)
    if args.may_start:
        return may_start(args.state_dir / STATE_FILE, Imds(args.imds_url))

    try:
        env = node_config.read_env_file(args.env_file or node_config.default_env_file())
        settings = node_config.load_settings(env)
        imds = Imds(args.imds_url)
        instance_id = imds.instance_id()
    except (node_config.NodeConfigError, ImdsError) as exc:
        print(f"node-agent lifecycle: {exc}", file=sys.stderr)
        return 2
    trino = TrinoAdmin(args.trino_url)
    agent = LifecycleAgent(
        config=build_config(settings, instance_id),
        imds=imds,
        autoscaling=aws.client("autoscaling", settings.region),
        cloudwatch=aws.client("cloudwatch", settings.region),
        trino=trino,
        trino_running=trino_alive(TrinoProcess(args.data_dir), trino),
        store=StateStore(args.state_dir / STATE_FILE),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    agent.run(stop)
    return 0
