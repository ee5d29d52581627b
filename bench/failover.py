"""The coordinator pair as it ships, timed: first deploy, pauses it must ride out, killed holders.

Real parts as in tests/integration/test_failover.py: two Trino 476 coordinators and a worker
rendered as production renders them (`node-scheduler.include-coordinator=false`, every
`discovery.uri` the coordinator address), the stack's resources in moto server with the ENI
created unattached, the address played by tools.harness.address.AddressStandIn (it follows the ENI in
moto), and the unchanged failover handler with the stack's settings. A thread plays EventBridge,
starting the handler every 60 s from the moment the stack exists.

Prints, one line per event and a summary:
- first deploy: stack start -> address attached -> worker joined -> address serving a query;
- pauses (SIGSTOP, then SIGCONT) of growing length: whether the address moved;
- killed holders (SIGKILL at different offsets into the minute): death -> address moved ->
  worker joined the new holder -> address serving a query again (median and max).
A killed coordinator is replaced by a new boot for the same instance, as its group would.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import threading
import time
from typing import Any

from components.base import REPO_ROOT

ROOT = REPO_ROOT
SCHEDULE_SECONDS = 60.0
PAUSES = (5.0, 10.0, 15.0, 20.0, 30.0)  # seconds; stops at the first that moves the address
KILL_OFFSETS = (10.0, 30.0, 50.0)  # seconds into a scheduled minute


class Schedule:
    """Starts the handler every SCHEDULE_SECONDS from `start`, like an EventBridge rule."""

    def __init__(self, invoke: Any, start: float) -> None:
        self.invoke, self.start = invoke, start
        self.stopped = threading.Event()
        self.runs: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def offset(self) -> float:
        """Seconds since the current scheduled minute began."""
        return (time.monotonic() - self.start) % SCHEDULE_SECONDS

    def _loop(self) -> None:
        n = 0
        while not self.stopped.is_set():
            run = threading.Thread(target=self.invoke, daemon=True)
            run.start()
            self.runs.append(run)
            n += 1
            self.stopped.wait(max(0.0, self.start + n * SCHEDULE_SECONDS - time.monotonic()))

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        for run in self.runs:
            run.join(timeout=120)


def wait_until(condition: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic()


def say(line: str) -> None:
    print(line, file=sys.__stdout__ or sys.stdout, flush=True)


def main() -> int:
    from tools.harness.coordinator_pair import pause, resume, start_pair
    from tools.harness.failover_function import FailoverFunction, eni_holder, scheduled_event
    from tools.harness.moto import MotoServer
    from tools.harness.trino import TrinoFactory

    factory = TrinoFactory()
    moto = MotoServer()
    schedule: Schedule | None = None
    pair = None
    kills: list[tuple[float, float, float]] = []
    try:
        start = time.monotonic()
        resources = moto.create_cluster_resources()
        autoscaling = moto.boto3_client("autoscaling")
        instances = sorted(resources.coordinator_instance_ids)

        def holder() -> str | None:
            return eni_holder(moto, resources.coordinator_eni_id)

        pair = start_pair(factory, instances, holder, workers=1)
        function = FailoverFunction(moto, resources)
        function.use_shared_secret(pair.secrets.shared_secret)  # as a stack deploys it
        for iid, node in pair.coordinators.items():
            function.play(iid, node.url)
        pair.address.follow(function.clients["ec2"])  # the address moves when the call returns

        def invoke() -> None:
            with contextlib.redirect_stdout(io.StringIO()):  # the handler's JSON log lines
                function.invoke(scheduled_event("bench"))

        schedule = Schedule(invoke, start)

        # --- first deploy ----------------------------------------------------------------------
        attached = wait_until(lambda: holder() is not None, 1200, "first attach")
        joined = attached + pair.wait_joined(pair.coordinators[str(holder())], 600, since=attached)
        serving = attached + pair.wait_serving(600, since=attached)
        say(
            f"first deploy: stack start -> attached {attached - start:.1f} s, worker joined "
            f"{joined - attached:.1f} s after the attach, address serving {serving - start:.1f} s "
            f"after stack start ({serving - attached:.1f} s after the attach)"
        )

        # --- pauses ----------------------------------------------------------------------------
        kept: list[float] = []
        for seconds in PAUSES:
            before = holder()
            node = pair.coordinators[str(before)]
            pause(node)
            time.sleep(seconds)
            resume(node)
            time.sleep(35)  # longer than UNRESPONSIVE_SECONDS: any open streak has been decided
            moved = holder() != before
            say(f"pause of {seconds:.0f} s: the address {'MOVED' if moved else 'stayed'}")
            if moved:
                autoscaling.set_instance_health(InstanceId=str(before), HealthStatus="Healthy")
                pair.wait_serving(600)
                break
            kept.append(seconds)

        # --- killed holders --------------------------------------------------------------------
        for offset in KILL_OFFSETS:
            victim = str(holder())
            (standby,) = set(instances) - {victim}
            wait_until(lambda o=offset: abs(schedule.offset() - o) < 0.5, 120, "the kill offset")
            pair.coordinators[victim].kill()
            died = time.monotonic()
            moved_at = wait_until(lambda standby=standby: holder() == standby, 300, "the move")
            join = pair.wait_joined(pair.coordinators[standby], 600, since=moved_at)
            serving = died + pair.wait_serving(600, since=died)
            kills.append((moved_at - died, join, serving - died))
            say(
                f"killed {offset:.0f} s into the minute: moved {moved_at - died:.1f} s after the kill, "
                f"worker joined {join:.1f} s after the move, serving {serving - died:.1f} s after the kill"
            )
            if offset == KILL_OFFSETS[-1]:
                break
            # the group's replacement: a new boot for the same instance, Healthy again
            replacement = pair.add_coordinator(victim)
            function.play(victim, replacement.url)
            pair.wait_started([replacement], timeout=900)
            autoscaling.set_instance_health(InstanceId=victim, HealthStatus="Healthy")
    finally:
        if schedule is not None:
            schedule.stop()
        if pair is not None:
            pair.stop()
        moto.stop()
        factory.stop_all()
    if kept:
        say(f"longest pause that did not move the address: {max(kept):.0f} s (tried {PAUSES})")
    if kills:
        for label, index in (("moved", 0), ("worker joined after the move", 1), ("serving again", 2)):
            values = [k[index] for k in kills]
            say(
                f"killed holder, {label}: median {statistics.median(values):.1f} s, "
                f"max {max(values):.1f} s over {len(values)} kills"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
