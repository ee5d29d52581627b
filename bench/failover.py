"""How long from the active coordinator's death to the ENI attached to the standby.

Real parts as in tests/integration/test_failover.py: two lone Trino 476 coordinators from the
harness, the stack's resources in moto server, and the unchanged failover handler with default
probe settings (3 failed probes, 5 s apart, a 55 s window). A thread plays EventBridge, starting
the handler every 60 s; the active coordinator's Trino is killed (or frozen) at different offsets
into that minute, because when in the minute a coordinator dies decides how long detection takes. moto's
instances have no machines behind them, so an address resolver maps their private IPs to the
local coordinators' URLs (the only seam).

Prints one line per run and a summary. The original template needed up to about two minutes
(one probe a minute, one failure enough); the target here is under 30 s.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAILOVER_DIR = ROOT / "functions" / "failover"
SCHEDULE_SECONDS = 60.0
# How the coordinator fails, and when: seconds after a scheduled invocation started (early,
# mid-window, in the window's last round, after it). "frozen" is SIGSTOP: the JVM still holds its
# port and the kernel still accepts connections, but nothing answers (a hang, a stuck GC).
SCENARIOS = (("killed", 5.0), ("killed", 30.0), ("killed", 48.0), ("killed", 53.0), ("frozen", 30.0))
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "resources": []}


def load_handler() -> ModuleType:
    for path in (str(ROOT), str(FAILOVER_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)
    spec = importlib.util.spec_from_file_location("failover_handler", FAILOVER_DIR / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContextStandIn:
    def __init__(self, timeout_seconds: float = 90.0) -> None:
        self.deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


class Schedule:
    """Starts the handler every SCHEDULE_SECONDS from `start` until stopped, like an EventBridge rule."""

    def __init__(self, invoke: Any, start: float) -> None:
        self.invoke, self.start = invoke, start
        self.stopped = threading.Event()
        self.runs: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

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


def one_failover(
    handler: ModuleType, moto: Any, pair: list[Any], fault: str, offset: float
) -> tuple[float, int]:
    """Kill or freeze the ENI holder's Trino `offset` s into a scheduled minute; seconds until it moved."""
    from functions.shared.lambda_support import TrinoAccess, TrinoClients

    moto.reset()
    resources = moto.create_cluster_resources(coordinators=2, workers=0)
    ec2 = moto.boto3_client("ec2")
    instances = sorted(resources.coordinator_instance_ids)
    trino_of = dict(zip(instances, pair, strict=True))
    described = ec2.describe_instances(InstanceIds=instances)["Reservations"]
    url_of_ip = {
        i["PrivateIpAddress"]: trino_of[i["InstanceId"]].url for r in described for i in r["Instances"]
    }
    trino = TrinoClients(TrinoAccess(timeout_seconds=3.0), resolve_url=lambda ip: url_of_ip[ip])
    clients = {s: moto.boto3_client(s) for s in ("ec2", "autoscaling", "cloudwatch", "secretsmanager")}
    env = {
        "CLUSTER": resources.cluster,
        "COORDINATOR_ENI_ID": resources.coordinator_eni_id,
        "COORDINATOR_ASG_NAME": resources.coordinator_asg_name,
    }

    def holder() -> str | None:
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[resources.coordinator_eni_id])
        return (eni["NetworkInterfaces"][0].get("Attachment") or {}).get("InstanceId")

    def invoke(window: str | None = None) -> dict[str, Any]:
        environ = {**env, "PROBE_WINDOW_SECONDS": window} if window else env
        return dict(
            handler.handler(
                SCHEDULED_EVENT, LambdaContextStandIn(), environ=environ, clients=clients, trino=trino
            )
        )

    assert invoke(window="0")["outcome"] == "attached"
    active = holder()
    (standby,) = set(instances) - {active}
    schedule = Schedule(invoke, time.monotonic())
    try:
        time.sleep(offset)
        victim = trino_of[active].coordinator
        if fault == "frozen":
            os.kill(victim.process.popen.pid, signal.SIGSTOP)
        else:
            victim.kill()
        died = time.monotonic()
        while holder() != standby:
            if time.monotonic() - died > 180:
                raise RuntimeError("the ENI did not move within 180 s")
            time.sleep(0.1)
        moved = time.monotonic()
    finally:
        schedule.stop()
        trino_of[active].coordinator.kill()  # a frozen one too: SIGKILL ends a stopped process
    return moved - died, len(schedule.runs)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from harness.moto import MotoServer
    from harness.trino import TrinoFactory

    handler = load_handler()
    factory = TrinoFactory()
    moto = MotoServer()
    results = []
    try:
        pair = [factory.start_cluster(workers=0, include_coordinator=True) for _ in range(2)]
        for fault, offset in SCENARIOS:
            log = io.StringIO()  # the handler's JSON log lines; kept out of the report
            with contextlib.redirect_stdout(log):
                seconds, invocations = one_failover(handler, moto, pair, fault, offset)
            results.append(seconds)
            print(
                f"{fault} {offset:4.0f} s into the minute: ENI on the standby {seconds:5.1f} s later "
                f"({invocations} scheduled invocation(s))",
                flush=True,
            )
            if (fault, offset) != SCENARIOS[-1]:
                # replace the dead coordinator with a fresh one, as its group would
                dead = next(i for i, c in enumerate(pair) if not c.coordinator.running())
                pair[dead] = factory.start_cluster(workers=0, include_coordinator=True)
    finally:
        moto.stop()
        factory.stop_all()
    print(
        f"failover time with default settings (3 probes, 5 s apart): min {min(results):.1f} s, "
        f"median {statistics.median(results):.1f} s, max {max(results):.1f} s over {len(results)} runs "
        "(target < 30 s; the original template: up to ~120 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
