"""What `node-agent metrics` costs on a coordinator: memory and CPU at one scrape per 15 s.

Runs the agent as its own process against a real Trino 476 (a lone local coordinator started
through the harness, unless --trino-url is given), reads Trino every 15 s and is scraped every
15 s like Prometheus would, for --seconds. CPU comes from /proc/<pid>/stat, memory from
/proc/<pid>/status. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from components.base import REPO_ROOT

ROOT = REPO_ROOT

from tools.harness.ports import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory_kib(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the metrics agent exited before listening")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the metrics agent did not listen on {port}")


def measure(trino_url: str, seconds: float, interval: float) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "node_agent.metrics.command",
        "--role=coordinator",
        "--cluster=bench",
        f"--trino-url={trino_url}",
        f"--port={port}",
        f"--interval={interval}",
        "--no-cloudwatch",
        "--querylog-metrics-url=",
    ]
    agent = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, agent)
        time.sleep(2)  # imports and the first read of Trino are start-up, not steady state
        cpu_start, wall_start = cpu_seconds(agent.pid), time.monotonic()
        rss_samples: list[int] = []
        page_bytes = 0
        while time.monotonic() - wall_start < seconds:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                page_bytes = len(response.read())
            rss_samples.append(memory_kib(agent.pid)["VmRSS"])
            time.sleep(interval)
        wall = time.monotonic() - wall_start
        cpu = cpu_seconds(agent.pid) - cpu_start
        peak = memory_kib(agent.pid)["VmHWM"]
        print(f"metrics agent, Trino read and scraped every {interval:.0f} s for {wall:.0f} s:")
        print(f"  CPU {cpu:.2f} s = {100 * cpu / wall:.3f} % of one core")
        rss = max(rss_samples) / 1024
        print(f"  RSS {rss:.1f} MiB (peak {peak / 1024:.1f} MiB), /metrics page {page_bytes} bytes")
    finally:
        agent.terminate()
        agent.wait(10)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trino-url", help="a running Trino coordinator to read instead of starting one")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args(argv)
    cluster: Any = None
    trino_url = args.trino_url
    if trino_url is None:
        from tools.harness.trino import TrinoFactory

        factory = TrinoFactory()
        cluster = factory.start_cluster(workers=0, include_coordinator=True)
        trino_url = cluster.url
    try:
        measure(trino_url, args.seconds, args.interval)
    finally:
        if cluster is not None:
            cluster.factory.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
