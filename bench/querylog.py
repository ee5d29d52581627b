"""Query-log numbers: the agent (its own process, as on a node) next to its store's raw bulk rate.

--backend elasticsearch (default) or opensearch: starts that server from the harness unless
--es-url is given, then in one run (Elasticsearch named below; the same for OpenSearch):
1. raw: the same documents the agent would index, straight into Elasticsearch with
   `helpers.bulk` (500 per request), before and after the agent runs;
2. the agent as `python -m node_agent.querylog.command` on its own spool: its RSS and CPU idle, then
   --senders processes POSTing real Trino 476 events (~30 KB on average, ends spread over
   --days days, so several daily indices) as fast as it answers, each waiting for its 200 before
   the next POST: events/s from the first POST until Elasticsearch acknowledged the last (the
   agent's own counter), p50/p99 time to the 200, the agent's RSS and CPU under that load, and
   its CPU per event next to what parsing one posted event costs in this process (whether the
   agent is bound by its CPU, and by which part, or by the time to each fsynced 200);
3. latency: events at a steady rate, each timed from its POST until a search finds it.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from components.base import REPO_ROOT

ROOT = REPO_ROOT

from bench.agent_idle import cpu_seconds, memory_kib  # noqa: E402
from node_agent.contract import QUERYLOG_PATH, ElasticsearchSettings  # noqa: E402
from node_agent.querylog.events import index_name, parse_completed_event  # noqa: E402
from node_agent.querylog.store.base import open_store  # noqa: E402
from tools.harness.ports import free_port  # noqa: E402

DATA = ROOT / "tests/node_agent/data/trino476"
TEMPLATES = [
    json.loads((DATA / f"{name}.json").read_text())
    for name in ("finished_lineitem_scan", "finished_nation_count", "failed_division_by_zero")
]


def event_body(query_id: str, n: int, days: int) -> bytes:
    """A captured Trino 476 event with a new id, ending on one of `days` days."""
    event = json.loads(json.dumps(TEMPLATES[n % len(TEMPLATES)]))
    end = datetime(2026, 11, 20, 12, tzinfo=UTC) + timedelta(days=n % days, seconds=n)
    event["metadata"]["queryId"] = query_id
    event["createTime"] = (end - timedelta(seconds=3)).isoformat().replace("+00:00", "Z")
    event["executionStartTime"] = (end - timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    event["endTime"] = end.isoformat().replace("+00:00", "Z")
    return json.dumps(event).encode()


def bodies(tag: str, count: int, days: int) -> list[bytes]:
    return [event_body(f"{tag}-{i}-{uuid.uuid4().hex[:8]}", i, days) for i in range(count)]


def raw_bulk_rate(es_url: str, prefix: str, events: list[bytes], backend: str = "elasticsearch") -> float:
    """events/s for helpers.bulk of the documents the agent would index (parsing not timed), with
    the official client of `backend` (both clients' helpers.bulk take the same arguments)."""
    if backend == "elasticsearch":
        from elasticsearch import helpers
    else:
        from opensearchpy import helpers  # type: ignore[no-redef]

    store: Any = open_store(ElasticsearchSettings(url=es_url, index_prefix=prefix, backend=backend), None)
    store.prepare()
    docs = [parse_completed_event(body) for body in events]
    actions = [
        {"_index": index_name(prefix, d["end_time"]), "_id": d["query_id"], "_source": d} for d in docs
    ]
    machine_before, own_before = machine_busy(), time.process_time()
    started = time.perf_counter()
    ok, errors = helpers.bulk(store.client, actions, chunk_size=500, max_chunk_bytes=50 * 1024 * 1024)
    elapsed = time.perf_counter() - started
    assert ok == len(events) and not errors, errors
    store_cpu = machine_busy()[0] - machine_before[0] - (time.process_time() - own_before)
    print(
        f"  raw run: the store took {1000 * store_cpu / len(events):.2f} ms CPU per document "
        f"(the machine's busy time less this process's)"
    )
    return len(events) / elapsed


class AgentProcess:
    """`node-agent querylog` as its own process, as systemd runs it on a coordinator."""

    def __init__(self, es_url: str, prefix: str, spool_dir: Path, backend: str = "elasticsearch") -> None:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "node_agent.querylog.command",
            f"--port={self.port}",
            f"--spool-dir={spool_dir}",
            f"--es-url={es_url}",
            f"--index-prefix={prefix}",
            f"--backend={backend}",
        ]
        self.log = spool_dir.with_suffix(".log").open("wb")
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"querylog agent did not start; see {self.log.name}") from None
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def rss_mib(self) -> float:
        return memory_kib(self.process.pid)["VmRSS"] / 1024

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


def _send(args: tuple[int, list[bytes]]) -> list[float]:
    """One sender process (like one Trino listener thread): POST each body, seconds to each 200."""
    port, events = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    for body in events:
        started = time.perf_counter()
        connection.request("POST", QUERYLOG_PATH, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"agent answered {response.status}")
        latencies.append(time.perf_counter() - started)
    connection.close()
    return latencies


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    values = [float(v) / ticks for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def footprint(agent: AgentProcess, seconds: float) -> tuple[float, float]:
    """(CPU % of one core, RSS MiB) of the agent's process over `seconds`."""
    cpu, started = agent.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return 100 * (agent.cpu_seconds() - cpu) / (time.monotonic() - started), agent.rss_mib()


def agent_throughput(agent: AgentProcess, events: list[bytes], senders: int) -> dict[str, float]:
    shares = [(agent.port, events[i::senders]) for i in range(senders)]
    indexed_before = agent.metric("trino_querylog_events_indexed_total")
    cpu_before = agent.cpu_seconds()
    machine_before = machine_busy()
    senders_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_peak = 0.0
    done = threading.Event()

    def sample_rss() -> None:
        nonlocal rss_peak
        while not done.is_set():
            rss_peak = max(rss_peak, agent.rss_mib())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    started = time.perf_counter()
    # close+join, not the context manager's terminate(): killing a worker that holds the task
    # queue's lock leaves another waiting on it forever.
    pool = multiprocessing.get_context("fork").Pool(senders)
    try:
        latencies = sorted(x for share in pool.map(_send, shares) for x in share)
    finally:
        pool.close()
        pool.join()
    accepted = time.perf_counter() - started
    while agent.metric("trino_querylog_events_indexed_total") - indexed_before < len(events):
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    cpu = agent.cpu_seconds() - cpu_before
    busy, total = (after - before for after, before in zip(machine_busy(), machine_before, strict=True))
    senders_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's processes, reaped
    senders = sum(getattr(senders_after, f) - getattr(senders_before, f) for f in ("ru_utime", "ru_stime"))
    return {
        "machine_busy": 100 * busy / total,
        "senders_ms_per_event": 1000 * senders / len(events),
        "rest_ms_per_event": 1000 * (busy - cpu - senders) / len(events),
        "cpu_ms_per_event": 1000 * cpu / len(events),
        "end_to_end": len(events) / elapsed,
        "accepted": len(events) / accepted,
        "p50_200": percentile(latencies, 50),
        "p99_200": percentile(latencies, 99),
        "cpu_percent": 100 * cpu / elapsed,
        "rss_peak": rss_peak,
    }


def searchable_latency(agent: AgentProcess, es_url: str, prefix: str, count: int, rate: float) -> list[float]:
    """Seconds from POST to the first search that finds the document (refresh interval 1 s)."""
    sent: dict[str, float] = {}
    found: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            pending = [q for q in list(sent) if q not in found]
            if pending:
                query = {"query": {"ids": {"values": pending}}, "size": len(pending), "_source": False}
                request = urllib.request.Request(
                    f"{es_url}/{prefix}-*/_search?ignore_unavailable=true&allow_no_indices=true",
                    data=json.dumps(query).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    hits = json.loads(response.read())["hits"]["hits"]
                now = time.perf_counter()
                for hit in hits:
                    found.setdefault(hit["_id"], now)
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    connection = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=60)
    try:
        for i in range(count):
            query_id = f"lat-{i}-{uuid.uuid4().hex[:8]}"
            body = event_body(query_id, i, 1)
            sent[query_id] = time.perf_counter()
            connection.request("POST", QUERYLOG_PATH, body=body, headers={"Content-Type": "application/json"})
            connection.getresponse().read()
            time.sleep(1 / rate)
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        poller.join(5)
        connection.close()
    return sorted(found[q] - sent[q] for q in found)


def parse_ms_per_event(events: list[bytes]) -> float:
    """CPU milliseconds to turn one posted event into its document, in this process."""
    started = time.process_time()
    for body in events:
        parse_completed_event(body)
    return 1000 * (time.process_time() - started) / len(events)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("elasticsearch", "opensearch"), default="elasticsearch")
    parser.add_argument("--es-url", help="a server of --backend to use instead of starting one")
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--days", type=int, default=5, help="event end times spread over this many days")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="events/s during the latency run")
    args = parser.parse_args(argv)

    server: Any = None
    es_url = args.es_url
    if es_url is None:
        from tools.harness.elasticsearch import Elasticsearch
        from tools.harness.opensearch import OpenSearch

        kind = Elasticsearch if args.backend == "elasticsearch" else OpenSearch
        server = kind().start(timeout=900)  # a loaded machine starts it slowly
        es_url = server.url
    print(f"store: {args.backend} at {es_url}")
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        sample = bodies("size", 30, args.days)
        posted = sum(len(b) for b in sample) / len(sample)
        indexed = sum(len(json.dumps(parse_completed_event(b))) for b in sample) / len(sample)
        print(
            f"events: {posted / 1024:.1f} KiB as posted by Trino 476 (mean), {indexed / 1024:.1f} KiB indexed"
        )
        # creates the indices and warms the JVM (2,000 left the first measured run at a third)
        raw_bulk_rate(es_url, prefix, bodies("warm", args.events, args.days), args.backend)
        raw_before = raw_bulk_rate(es_url, prefix, bodies("raw1", args.events, args.days), args.backend)
        print(f"raw helpers.bulk (500/request, same documents): {raw_before:8.0f} events/s")
        with tempfile.TemporaryDirectory() as spool:
            agent = AgentProcess(es_url, prefix, Path(spool) / "spool", args.backend)
            try:
                time.sleep(2)  # imports and the template put are start-up, not idle
                cpu, rss = footprint(agent, args.idle_seconds)
                print(f"agent idle: CPU {cpu:.2f} % of one core, RSS {rss:.1f} MiB")
                agent_throughput(agent, bodies("warm-agent", 1000, args.days), args.senders)
                numbers = agent_throughput(agent, bodies("agent", args.events, args.days), args.senders)
                raw_after = raw_bulk_rate(
                    es_url, prefix, bodies("raw2", args.events, args.days), args.backend
                )
                raw = (raw_before + raw_after) / 2
                print(f"raw helpers.bulk again, after the agent ran:     {raw_after:8.0f} events/s")
                print(
                    f"agent, {args.senders} sender processes: {numbers['end_to_end']:8.0f} events/s "
                    f"receipt -> acknowledged by {args.backend} "
                    f"({numbers['accepted']:.0f} events/s answered 200); "
                    f"{100 * numbers['end_to_end'] / raw:.0f} % of the raw rate (mean of both raw runs)"
                )
                print(
                    f"  time to the 200: p50 {numbers['p50_200'] * 1000:.1f} ms, "
                    f"p99 {numbers['p99_200'] * 1000:.1f} ms (fsynced before each 200)"
                )
                print(
                    f"  agent under load: CPU {numbers['cpu_percent']:.0f} % of one core, "
                    f"RSS peak {numbers['rss_peak']:.1f} MiB; "
                    f"{numbers['cpu_ms_per_event']:.2f} ms CPU per event, of which parsing the "
                    f"posted JSON ~{parse_ms_per_event(bodies('cost', 500, args.days)):.2f} ms "
                    "(measured in the bench process)"
                )
                print(
                    f"  the machine meanwhile (agent, store, senders): {numbers['machine_busy']:.0f} % of "
                    f"its {os.cpu_count()} cores busy; CPU per event: senders "
                    f"{numbers['senders_ms_per_event']:.2f} ms, the rest (the store) "
                    f"{numbers['rest_ms_per_event']:.2f} ms"
                )
                lat = searchable_latency(agent, es_url, prefix, args.latency_events, args.latency_rate)
                print(
                    f"receipt -> searchable at {args.latency_rate:.0f} events/s "
                    f"({len(lat)}/{args.latency_events} found): "
                    f"p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms "
                    "(index refresh interval 1 s)"
                )
                cpu, rss = footprint(agent, args.idle_seconds)
                print(f"agent idle again: CPU {cpu:.2f} % of one core, RSS {rss:.1f} MiB")
            finally:
                agent.stop()
    finally:
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
