"""Switchovers under the clients users run: queries failed per client over N address moves.

The coordinator pair of tests/integration/rollout_rehearsal.py (real Trino coordinators and two
workers rendered for production, the address following the ENI in moto server, the unchanged
failover handler), and three clients at the address, each at its default settings, each running
one query after another with a pause: the `trino` Python client, the Trino CLI (one JVM per query,
as a script runs it) and the JDBC driver (one connection, kept). Then --moves switchovers: each
time the holder is held by the termination hook and the failover function is invoked until it
lets the holder go; the holder is not terminated but stays as the next move's target (moving
back and forth keeps the bench to minutes; each move is the same as in a rollout). Prints, per
client, queries run and failed (with the reasons), and the moves' outcomes: quiet, returned to the
holder because a query raced the move, or not quiet; and how long the address answered nobody.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from components.base import REPO_ROOT
from node_agent.contract import TAG_SWITCHOVER_SINCE

SQL = "SELECT count(*) FROM tpch.tiny.orders"
JDBC_SOURCE = REPO_ROOT / "bench" / "clients" / "JdbcStream.java"


class PingPongHook:
    """The termination hook holding `leaving` (Terminating:Wait) until its action is completed.

    Each move uses a hook name of its own, so the stand-in lifecycle API, which like AWS refuses a
    second completion of one action, takes the same instance leaving again later.
    """

    def __init__(self, autoscaling: Any) -> None:
        from tools.harness.fakes import StandInLifecycleApi

        self.api = StandInLifecycleApi()
        self.api.attach(autoscaling)
        self.leaving: str | None = None
        self.hook = ""
        autoscaling.meta.events.register("after-call.auto-scaling.DescribeAutoScalingGroups", self._states)

    def completed(self) -> bool:
        return any(
            c.params["InstanceId"] == self.leaving and c.params["LifecycleHookName"] == self.hook
            for c in self.api.completions()
        )

    def _states(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.leaving is None or self.completed():
            return
        for group in parsed.get("AutoScalingGroups", []):
            for instance in group.get("Instances", []):
                if instance["InstanceId"] == self.leaving:
                    instance["LifecycleState"] = "Terminating:Wait"


class Outcomes:
    def __init__(self) -> None:
        self.ok = 0
        self.failed: list[str] = []
        self.lock = threading.Lock()

    def add(self, ok: bool, reason: str = "") -> None:
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failed.append(reason)


def cli_message(text: str) -> str:
    """The CLI's own words: the JVM's native-access warnings (Java 24+) dropped, the end kept."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("WARNING:")]
    return " / ".join(lines)[-300:]


def cli_stream(java: Path, jar: Path, url: str, pause: float, stop: threading.Event, out: Outcomes) -> None:
    while not stop.is_set():
        command = [str(java), "-jar", str(jar), "--server", url, "--user", "cli", "--execute", SQL]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
            ok = done.returncode == 0 and done.stdout.strip().strip('"') == "15000"
            out.add(ok, f"exit {done.returncode}: {cli_message(done.stderr or done.stdout)}")
        except subprocess.TimeoutExpired:
            out.add(False, "no answer in 300 s")
        stop.wait(pause)


def jdbc_stream(java: Path, jar: Path, url: str, pause: float, out: Outcomes) -> subprocess.Popen[str]:
    port = url.rsplit(":", 1)[1]
    command = [str(java), "-cp", str(jar), str(JDBC_SOURCE), f"jdbc:trino://127.0.0.1:{port}", SQL]
    process = subprocess.Popen(
        [*command, str(int(pause * 1000))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            out.add(line.startswith("ok "), line.strip()[:300])

    threading.Thread(target=read, daemon=True).start()
    return process


def main(argv: list[str] | None = None) -> int:
    from tests.integration.rollout_rehearsal import QueryStream, Rehearsal
    from tools.harness import downloads
    from tools.harness.failover_function import termination_event
    from tools.harness.moto import MotoServer
    from tools.harness.trino import TrinoFactory, default_settings
    from tools.harness.trino_node import java_home

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between two queries of a client")
    options = parser.parse_args(argv)
    factory, moto = TrinoFactory(), MotoServer()
    cli = downloads.fetch(downloads.trino_cli(factory.version))
    jdbc = downloads.fetch(downloads.trino_jdbc(factory.version))
    java = java_home() / "bin" / "java"
    resources = moto.create_cluster_resources()
    workdir = Path(tempfile.mkdtemp(prefix="switchover-bench-"))
    rehearsal = Rehearsal(factory, moto, resources, workdir, default_settings(factory.version))
    results = {"python": Outcomes(), "cli": Outcomes(), "jdbc": Outcomes()}
    decisions: Counter[str] = Counter()
    stop = threading.Event()
    try:
        pair = rehearsal.start()
        url = pair.address.url
        python = QueryStream(url, clients=1, pause=options.pause)
        python.start()
        cli_thread = threading.Thread(
            target=cli_stream, args=(java, cli, url, options.pause, stop, results["cli"]), daemon=True
        )
        cli_thread.start()
        jdbc_process = jdbc_stream(java, jdbc, url, options.pause, results["jdbc"])
        hook = PingPongHook(rehearsal.function.clients["autoscaling"])
        ec2 = rehearsal.function.clients["ec2"]
        time.sleep(10)  # every client has run before the first move
        started = time.monotonic()
        for move in range(options.moves):
            holder = pair.address.holder
            assert holder is not None
            hook.leaving, hook.hook = holder, f"switchover-{move}"
            this_move: list[str] = []
            while not hook.completed():
                captured = io.StringIO()
                with contextlib.redirect_stdout(captured):
                    rehearsal.function.invoke(
                        termination_event(resources, hook.hook), SWITCHOVER_HOOK_NAME=hook.hook
                    )
                for line in captured.getvalue().splitlines():
                    if line.startswith("{") and "switchover_" in line:
                        record = json.loads(line)
                        decisions[record["decision"]] += 1
                        this_move.append(f"{record['decision']}: {record.get('reason', '')}")
            hook.leaving = None
            ec2.delete_tags(Resources=[holder], Tags=[{"Key": TAG_SWITCHOVER_SINCE}])
            node = pair.holder_node()
            assert node is not None and pair.address.holder != holder, (
                f"the address did not move: {this_move}"
            )
            pair.wait_joined(node, 300)
            time.sleep(2)
            print(f"move {move + 1}: {holder} -> {pair.address.holder}", flush=True)
        seconds = time.monotonic() - started
        time.sleep(5)
        stop.set()
        record = python.stop()
        results["python"].ok, results["python"].failed = len(record.ok), [r for _, r in record.failed]
        assert jdbc_process.stdin is not None
        jdbc_process.stdin.close()
        jdbc_process.wait(60)
        cli_thread.join(300)
    finally:
        stop.set()
        rehearsal.stop()
        moto.stop()
        factory.stop_all()
    print(f"{options.moves} switchovers in {seconds:.0f} s, Trino {factory.version}, pause {options.pause} s")
    print("  moves: " + ", ".join(f"{d} {n}" for d, n in sorted(decisions.items())))
    print(f"  address attached to nobody: {rehearsal.address_down_seconds:.3f} s in total")
    for name, out in results.items():
        print(f"  {name:6s} client: {out.ok + len(out.failed)} queries, {len(out.failed)} failed")
        for reason in out.failed[:5]:
            print(f"      {reason}")
    return 0 if not any(out.failed for out in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
