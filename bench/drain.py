"""What a worker's drain costs: the lifecycle agent at rest, and how fast it lets a drained node go.

1. Idle: `node-agent lifecycle` runs as its own process exactly as its systemd unit starts it
   (node env file -> SSM in moto server -> IMDSv2 from FakeImds) with the instance InService,
   for --seconds. CPU from /proc/<pid>/stat, memory from /proc/<pid>/status.
2. Drain (skip with --idle-only): a real Trino 476 coordinator + worker from the harness, a TPC-H
   sf1 scan in flight, the worker's target state set to Terminated. Prints the time from the
   query's end, and from the Trino process's exit, to CompleteLifecycleAction. Trino's own part
   is 2 x shutdown.grace-period (the harness's 10 s, 2 min by default); the agent's part is the rest.
3. The same drain of a worker with nothing running: the victim the scale-in function picks (the
   idlest), where Auto Scaling's default order may pick the busy one of step 2. Trino waits one
   grace period, then for its tasks, then another, so the difference is the part of the busy
   worker's remaining query that outlasts the first grace period (with the default 2 min, what
   choosing the victim saves is that much less than the longest query it spares).

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from components.base import REPO_ROOT

ROOT = REPO_ROOT
TICKS = os.sysconf("SC_CLK_TCK")
# 60 million rows, with a string aggregate: a minute or more on 2 cores, so the busy worker's
# drain waits on a query far from its end, as a scale-in in the middle of a long query does.
BUSY_QUERY = "SELECT count(*), sum(quantity), max(comment) FROM tpch.sf10.lineitem"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def idle(seconds: float) -> None:
    from node_agent.contract import NODE_ENV_REGION, NODE_ENV_ROLE, NODE_ENV_SETTINGS_PARAMETER
    from tools.harness.fakes import FakeImds, instance_metadata
    from tools.harness.moto import MotoServer
    from tools.harness.trino import default_settings

    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    moto = MotoServer(work / "moto")
    imds = FakeImds(instance_metadata("i-0bench0000000000"))
    process = None
    try:
        parameter = "/presto-on-aws/bench/node-settings"
        moto.boto3_client("ssm").put_parameter(
            Name=parameter, Value=default_settings().to_json(), Type="String"
        )
        env_file = work / "node.env"
        env_file.write_text(
            f"{NODE_ENV_SETTINGS_PARAMETER}={parameter}\n{NODE_ENV_ROLE}=worker\n{NODE_ENV_REGION}=us-east-1\n"
        )
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": moto.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable, "-m", "node_agent.cli", "lifecycle",
            "--env-file", str(env_file), "--imds-url", imds.url,
            "--data-dir", str(work / "data"), "--state-dir", str(work / "state"),
        ]  # fmt: skip
        process = subprocess.Popen(command, env=env, cwd=ROOT)
        time.sleep(5)  # imports and the first polls
        if process.poll() is not None:
            raise RuntimeError(f"the lifecycle agent exited with {process.returncode}")
        start_cpu, start = cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        used = cpu_seconds(process.pid) - start_cpu
        wall = time.monotonic() - start
        memory = memory_kib(process.pid)
        polls = sum(1 for method, path, _ in imds.requests if method == "GET" and "lifecycle-state" in path)
        print(
            f"lifecycle agent idle over {wall:.0f}s: CPU {100 * used / wall:.3f}% of one core ({used:.2f}s)"
        )
        rss, peak = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024
        print(f"lifecycle agent memory: RSS {rss:.1f} MiB, peak {peak:.1f} MiB")
        print(f"IMDS lifecycle-state polls: {polls} ({polls / (wall + 5):.2f}/s)")
    finally:
        if process and process.poll() is None:
            process.terminate()
            process.wait(10)
        imds.stop()
        moto.stop()


def drain(*, busy: bool = True) -> None:
    from dataclasses import replace

    from node_agent.imds import Imds
    from node_agent.lifecycle.command import LifecycleAgent, build_config
    from node_agent.lifecycle.drain_state import StateStore
    from node_agent.trino.process import TrinoProcess, trino_alive
    from tools.harness.fakes import FakeImds, StandInLifecycleApi, instance_metadata
    from tools.harness.moto import MotoServer
    from tools.harness.trino import TrinoFactory

    work = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    factory = TrinoFactory(work / "trino")
    moto = MotoServer(work / "moto")
    stop = threading.Event()
    imds = None
    try:
        resources = moto.create_cluster_resources(workers=1)
        cluster = factory.start_cluster(workers=1)
        worker = cluster.workers[0]
        instance_id = resources.worker_instance_ids[0]
        imds = FakeImds(instance_metadata(instance_id))
        api = StandInLifecycleApi(observe=lambda: _exited(worker.process.pid))
        settings = replace(cluster.settings, lifecycle_hook_name=resources.lifecycle_hook_name)
        agent = LifecycleAgent(
            config=build_config(settings, instance_id),
            imds=Imds(imds.url),
            autoscaling=api.attach(moto.boto3_client("autoscaling")),
            cloudwatch=moto.boto3_client("cloudwatch"),
            trino=worker.admin(),
            trino_running=trino_alive(TrinoProcess(worker.data_dir), worker.admin()),
            store=StateStore(work / "lifecycle.json"),
            out=io.StringIO(),
        )
        threading.Thread(target=agent.run, args=(stop,), daemon=True).start()
        ended: dict[str, float] = {}

        def query() -> None:
            cluster.query(BUSY_QUERY, deadline_seconds=600)
            ended["query"] = time.monotonic()

        def exit_watch() -> None:
            # waitid(WNOWAIT) sees the exit within 5 ms without reaping (the harness reaps).
            while time.monotonic() < terminated + 600 and not _exited(worker.process.pid):
                time.sleep(0.005)
            ended["exit"] = time.monotonic()

        label = "drain" if busy else "drain of an idle worker"
        runner = threading.Thread(target=query)
        started = time.monotonic()
        if busy:
            runner.start()
            time.sleep(3)
        terminated = time.monotonic()
        threading.Thread(target=exit_watch, daemon=True).start()
        imds.set("autoscaling/target-lifecycle-state", "Terminated")
        if busy:
            runner.join(600)
        deadline = time.monotonic() + 300
        while not (api.completions() and "exit" in ended) and time.monotonic() < deadline:
            time.sleep(0.05)
        completed = api.completions()[0].at
        print(f"{label}: termination -> CompleteLifecycleAction {completed - terminated:.2f}s")
        if not busy:
            return
        after_query = completed - ended["query"]
        grace = settings.config_overrides.get("shutdown.grace-period", "2m")
        print(f"drain: last query end -> CompleteLifecycleAction {after_query:.2f}s (grace period {grace})")
        ran, left = ended["query"] - started, ended["query"] - terminated
        print(f"drain: the query ran {ran:.1f}s, {left:.1f}s of it after the termination")
        after_exit = completed - ended["exit"]
        print(f"drain: trino exit -> CompleteLifecycleAction {after_exit:+.2f}s (exit seen by a 5 ms poll)")
        print(f"drain: trino had exited when the action was completed: {api.completions()[0].observed}")
        interval = build_config(settings, instance_id).heartbeat_interval
        print(f"drain: heartbeats {len(api.heartbeats())} (every {interval:.0f}s)")
    finally:
        stop.set()
        if imds:
            imds.stop()
        factory.stop_all()
        moto.stop()


def _exited(pid: int) -> bool:
    """Whether our child has exited, without reaping it (the harness does that)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="idle measurement window")
    parser.add_argument("--idle-only", action="store_true", help="skip the real-Trino drain")
    args = parser.parse_args()
    idle(args.seconds)
    if not args.idle_only:
        drain()
        drain(busy=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
