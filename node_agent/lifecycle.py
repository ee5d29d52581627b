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

Every decision is one JSON line on stdout: instance, state, decision, reason, elapsed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from node_agent import aws
from node_agent.contract import AGENT_STATE_DIR, TRINO_DATA, TRINO_HTTP_PORT, Metric
from node_agent.imds import IMDS_URL, Imds, ImdsError
from node_agent.trino import TrinoAdmin, TrinoError, TrinoUnavailable

TERMINATED = "Terminated"
TERMINATING_TRANSITION = "autoscaling:EC2_INSTANCE_TERMINATING"
STATE_FILE = "lifecycle.json"
MAX_HOOK_SECONDS = 48 * 3600  # AWS's global timeout for one lifecycle action


# --- state that survives a restart ----------------------------------------------------------
@dataclass
class DrainRecord:
    instance_id: str
    reason: str
    started_at: float  # wall clock (epoch seconds): survives restarts, unlike monotonic time
    shutdown_requested: bool = False
    last_heartbeat_at: float | None = None
    heartbeats: int = 0
    completed: bool = False
    completion_reason: str | None = None


class NoLifecycleAction(Exception):
    """This instance has no group or its group no termination hook: nothing to heartbeat."""


class StateStore:
    """One JSON file, replaced atomically, so a crash never leaves half a record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # why the last load found nothing usable

    def load(self, instance_id: str) -> DrainRecord | None:
        """The drain in progress, if any. An unreadable file is moved aside, not fatal: an agent
        that crash-looped on it would never drain, while starting afresh only re-reads Trino's state.
        """
        self.problem = None
        try:
            raw = json.loads(self.path.read_text())
            record = DrainRecord(**raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            aside = self.path.with_suffix(".unreadable")
            os.replace(self.path, aside)
            self.problem = f"state file was unreadable ({exc}); moved to {aside.name}, starting afresh"
            return None
        return record if record.instance_id == instance_id else None  # a file baked into an image

    def save(self, record: DrainRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            json.dump(asdict(record), handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


# --- is Trino still running? ----------------------------------------------------------------
class TrinoProcess:
    """Finds the Trino JVM of one node by its working directory (the launcher chdir()s into the
    data dir and exec()s java), and then follows that process id, so "exited" means the process
    is gone or a zombie, not merely that its port closed or that it is still tearing down.
    """

    def __init__(self, data_dir: Path, proc: Path = Path("/proc")) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.proc = proc
        self._known: tuple[str, str] | None = None  # (pid, start time): survives pid reuse

    def running(self) -> bool:
        if self._known:
            pid, started = self._known
            fields = self._stat(pid)
            if fields and fields[19] == started:
                return fields[0] not in ("Z", "X") or self._threads_alive(pid)
            self._known = None
        for entry in self.proc.iterdir():
            if entry.name.isdigit() and self._is_trino(entry):
                fields = self._stat(entry.name)
                if fields and fields[0] not in ("Z", "X"):
                    self._known = (entry.name, fields[19])
                    return True
        return False

    def _threads_alive(self, pid: str) -> bool:
        """A JVM's main thread can be a zombie while its other threads still run the shutdown:
        the process has exited only when every thread has."""
        try:
            tasks = list((self.proc / pid / "task").iterdir())
        except OSError:
            return False
        for task in tasks:
            try:
                state = (task / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                return True
        return False

    def _is_trino(self, entry: Path) -> bool:
        try:
            return (
                Path(os.readlink(entry / "cwd")) == self.data_dir
                and b"java" in (entry / "cmdline").read_bytes()
            )
        except OSError:
            return False  # gone meanwhile, or not ours to read

    def _stat(self, pid: str) -> list[str] | None:
        """Fields of /proc/<pid>/stat after the command name: [0] is the state, [19] the start time."""
        try:
            text = (self.proc / pid / "stat").read_text()
        except OSError:
            return None
        return text.rsplit(")", 1)[-1].split()


def trino_alive(process: TrinoProcess, trino: Any) -> Callable[[], bool]:
    """Running if its JVM is visible, or else if it still answers HTTP.

    The process is the precise signal (its port closes a moment before it exits); the HTTP
    fallback keeps a misconfigured agent that cannot read /proc/<pid>/cwd (no CAP_SYS_PTRACE)
    from mistaking a busy Trino for a dead one and letting the instance go mid-query.
    """

    def alive() -> bool:
        if process.running():
            return True
        try:
            trino.info()
        except TrinoUnavailable:
            return False
        except TrinoError:
            return True  # it answered, just not with success
        return True

    return alive


# --- the decision loop ----------------------------------------------------------------------
class LocalTrino(Protocol):
    """What the agent needs from its Trino (node_agent.trino.TrinoAdmin on a node)."""

    def state(self) -> str: ...

    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class LifecycleConfig:
    cluster: str
    instance_id: str
    hook_name: str = ""  # empty: the group's one termination hook
    max_drain_seconds: float = 6 * 3600
    heartbeat_interval: float = 100.0  # a third of the hook's heartbeat timeout
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
        self._target: str | None = None
        self._group: str | None = None
        self._hook: str | None = config.hook_name or None
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
            self._target = self.imds.target_lifecycle_state()
            spot = self.imds.spot_instance_action() if self.record is None else None
        except ImdsError as exc:
            self.decide_once("imds-unavailable", f"cannot read instance metadata: {exc}")
            return self.config.drain_interval if self.record else self.config.idle_interval
        if self.record is None:
            if self._target == TERMINATED:
                self._start(f"target lifecycle state is {TERMINATED}")
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
        self.record = DrainRecord(instance_id=self.config.instance_id, reason=reason, started_at=self.clock())
        self.store.save(self.record)
        self.decide("drain", reason)

    def _drain(self) -> None:
        record = self.record
        assert record is not None
        terminating = self._target == TERMINATED
        running = self.trino_running()
        if not record.shutdown_requested and running:
            self._request_shutdown(record)
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
        if terminating and (
            record.last_heartbeat_at is None
            or self.clock() - record.last_heartbeat_at >= self.config.heartbeat_interval
        ):
            self._heartbeat(record)

    def _request_shutdown(self, record: DrainRecord) -> None:
        try:
            if self.trino.state().strip('"') == "SHUTTING_DOWN":
                reason = "trino is already shutting down (an earlier request)"
            else:
                self.trino.shutdown()
                reason = "asked trino to shut down gracefully"
        except (TrinoError, TrinoUnavailable) as exc:
            self.decide("shutdown-failed", f"{exc}; retrying")
            return
        record.shutdown_requested = True
        self.store.save(record)
        self.decide("shutdown-requested", reason)

    def _heartbeat(self, record: DrainRecord) -> None:
        try:
            group, hook = self._group_and_hook()
            self.autoscaling.record_lifecycle_action_heartbeat(
                AutoScalingGroupName=group, LifecycleHookName=hook, InstanceId=self.config.instance_id
            )
        except ClientError as exc:
            if _no_active_action(exc):
                self._finish("the lifecycle action is no longer active (timed out or completed elsewhere)")
                return
            self.decide("heartbeat-failed", f"{_aws_error(exc)}; retrying")
            return
        except (BotoCoreError, NoLifecycleAction) as exc:
            self.decide("heartbeat-failed", f"{exc}; retrying")
            return
        record.last_heartbeat_at = self.clock()
        record.heartbeats += 1
        self.store.save(record)
        self.decide("heartbeat", f"trino still draining (heartbeat {record.heartbeats})")

    def _complete(self, reason: str) -> None:
        try:
            group, hook = self._group_and_hook()
            self.autoscaling.complete_lifecycle_action(
                AutoScalingGroupName=group,
                LifecycleHookName=hook,
                InstanceId=self.config.instance_id,
                LifecycleActionResult="CONTINUE",
            )
        except ClientError as exc:
            if _no_active_action(exc):
                self._finish(f"{reason}; the lifecycle action was no longer active")
                return
            self.decide("complete-failed", f"{_aws_error(exc)}; retrying")
            return
        except (BotoCoreError, NoLifecycleAction) as exc:
            self.decide("complete-failed", f"{exc}; retrying")
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
        try:
            aws.put_metric(
                self.cloudwatch, self.config.cluster, Metric.WORKER_DRAIN_SECONDS, elapsed, "Seconds"
            )
        except (ClientError, BotoCoreError) as exc:
            self.decide("metric-failed", f"cannot publish {Metric.WORKER_DRAIN_SECONDS}: {exc}")

    def _group_and_hook(self) -> tuple[str, str]:
        if self._group is None:
            found = self.autoscaling.describe_auto_scaling_instances(InstanceIds=[self.config.instance_id])
            instances = found.get("AutoScalingInstances", [])
            if not instances:
                raise NoLifecycleAction(f"instance {self.config.instance_id} is in no Auto Scaling group")
            self._group = str(instances[0]["AutoScalingGroupName"])
        if self._hook is None:
            hooks = self.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=self._group)[
                "LifecycleHooks"
            ]
            names = [
                h["LifecycleHookName"] for h in hooks if h["LifecycleTransition"] == TERMINATING_TRANSITION
            ]
            if len(names) != 1:
                raise NoLifecycleAction(f"group {self._group} has {len(names)} termination hooks, not one")
            self._hook = str(names[0])
        return self._group, self._hook

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


def _aws_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code')}: {error.get('Message')}"


def _no_active_action(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "No active Lifecycle Action" in str(
        error.get("Message")
    )


# --- command line ----------------------------------------------------------------------------
def build_config(settings: Any, instance_id: str) -> LifecycleConfig:
    """Timings from the node settings: heartbeats three times per heartbeat timeout."""
    return LifecycleConfig(
        cluster=settings.cluster,
        instance_id=instance_id,
        hook_name=settings.lifecycle_hook_name,
        max_drain_seconds=min(settings.max_drain_seconds, MAX_HOOK_SECONDS),
        heartbeat_interval=max(1.0, settings.heartbeat_timeout_seconds / 3),
    )


def main(argv: list[str]) -> int:
    from node_agent import bootstrap  # the settings loader; imported here to keep startup light

    parser = argparse.ArgumentParser(prog="node-agent lifecycle", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=None, help="node env file (default: the contract's)")
    parser.add_argument("--imds-url", default=IMDS_URL)
    parser.add_argument("--trino-url", default=f"http://127.0.0.1:{TRINO_HTTP_PORT}")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(TRINO_DATA), help="Trino's data dir (finds its JVM)"
    )
    parser.add_argument("--state-dir", type=Path, default=Path(AGENT_STATE_DIR))
    args = parser.parse_args(argv)

    try:
        env = bootstrap.read_env_file(args.env_file or bootstrap.default_env_file())
        settings = bootstrap.load_settings(env)
        imds = Imds(args.imds_url)
        instance_id = imds.instance_id()
    except (bootstrap.BootstrapError, ImdsError) as exc:
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
