"""Query-log numbers: agent throughput and latency into a real Elasticsearch, with ES's own bulk rate.

Starts a local Elasticsearch (harness) unless --es-url is given, then in one run:
1. the ceiling: the same documents bulk-indexed straight into Elasticsearch (events/s);
2. throughput: N real-shaped QueryCompletedEvents POSTed to the agent (one sender, like Trino's
   single listener thread, and several), timed from the first POST until ES acknowledged the last;
3. latency: events at a steady rate, each timed from its POST until a search finds it.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node_agent.contract import ElasticsearchSettings  # noqa: E402
from node_agent.es_index import bulk_index, make_client, put_template  # noqa: E402
from node_agent.events import parse_completed_event  # noqa: E402
from node_agent.querylog import QuerylogConfig, for_elasticsearch  # noqa: E402

EVENT = json.loads((ROOT / "tests/node_agent/data/trino476/finished_lineitem_scan.json").read_text())


def event_body(query_id: str) -> bytes:
    EVENT["metadata"]["queryId"] = query_id
    return json.dumps(EVENT).encode()


def raw_bulk_rate(es_url: str, prefix: str, count: int, batch: int = 500) -> float:
    client = make_client(ElasticsearchSettings(url=es_url), None)
    put_template(client, prefix)
    docs = [parse_completed_event(event_body(f"raw-{i}-{uuid.uuid4().hex[:6]}")) for i in range(count)]
    started = time.perf_counter()
    for i in range(0, count, batch):
        outcome = bulk_index(client, prefix, docs[i : i + batch])
        assert all(r == "ok" for r in outcome.results), outcome.reasons[:3]
    return count / (time.perf_counter() - started)


def agent_throughput(es_url: str, prefix: str, count: int, senders: int) -> tuple[float, float]:
    """(events/s from first POST to last ES acknowledgement, events/s accepted by the listener)."""
    with tempfile.TemporaryDirectory() as spool:
        config = QuerylogConfig(port=0, spool_dir=Path(spool))
        agent = for_elasticsearch(config, ElasticsearchSettings(url=es_url, index_prefix=prefix), None)
        agent.start()
        try:
            url = f"http://127.0.0.1:{agent.port}{config.path}"
            bodies = [event_body(f"tp-{senders}-{i}-{uuid.uuid4().hex[:6]}") for i in range(count)]
            local = threading.local()

            def post(body: bytes) -> None:
                session = getattr(local, "session", None) or requests.Session()
                local.session = session
                response = session.post(url, data=body, headers={"Content-Type": "application/json"})
                response.raise_for_status()

            started = time.perf_counter()
            with ThreadPoolExecutor(senders) as pool:
                list(pool.map(post, bodies))
            accepted = time.perf_counter() - started
            while agent.metrics.indexed._value.get() < count:
                time.sleep(0.005)
            return count / (time.perf_counter() - started), count / accepted
        finally:
            agent.stop()


def latency(es_url: str, prefix: str, count: int, rate: float) -> list[float]:
    """Seconds from POST to the first search that finds the document (refresh interval 1 s)."""
    client = make_client(ElasticsearchSettings(url=es_url), None)
    with tempfile.TemporaryDirectory() as spool:
        config = QuerylogConfig(port=0, spool_dir=Path(spool))
        agent = for_elasticsearch(config, ElasticsearchSettings(url=es_url, index_prefix=prefix), None)
        agent.start()
        sent: dict[str, float] = {}
        found: dict[str, float] = {}
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                pending = [q for q in list(sent) if q not in found]
                if pending:
                    hits = client.search(
                        index=f"{prefix}-*",
                        query={"ids": {"values": pending}},
                        size=len(pending),
                        source=False,
                    )["hits"]["hits"]
                    now = time.perf_counter()
                    for hit in hits:
                        found.setdefault(hit["_id"], now)
                time.sleep(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            url = f"http://127.0.0.1:{agent.port}{config.path}"
            with requests.Session() as session:
                for i in range(count):
                    query_id = f"lat-{i}-{uuid.uuid4().hex[:6]}"
                    body = event_body(query_id)
                    sent[query_id] = time.perf_counter()
                    session.post(url, data=body).raise_for_status()
                    time.sleep(1 / rate)
            deadline = time.monotonic() + 60
            while len(found) < count and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            done.set()
            poller.join(5)
            agent.stop()
    return sorted(found[q] - sent[q] for q in found)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--es-url", help="an Elasticsearch 8.x to use instead of starting one")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="events/s during the latency run")
    args = parser.parse_args(argv)

    server: Any = None
    es_url = args.es_url
    if es_url is None:
        from harness.elasticsearch import Elasticsearch

        server = Elasticsearch().start()
        es_url = server.url
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        posted = len(event_body("x"))
        indexed = len(json.dumps(parse_completed_event(event_body("x"))))
        print(f"event: {posted} bytes as posted by Trino 476, {indexed} bytes indexed")
        raw_bulk_rate(es_url, prefix, 1000)  # warm-up: creates the daily index, warms the JIT
        raw = raw_bulk_rate(es_url, prefix, args.events)
        print(f"raw Elasticsearch bulk (500/request, same documents): {raw:8.0f} events/s")
        for senders in (1, 4):
            end_to_end, accepted = agent_throughput(es_url, prefix, args.events, senders)
            print(
                f"agent, {senders} sender(s): {accepted:8.0f} events/s accepted (fsynced), "
                f"{end_to_end:8.0f} events/s receipt -> acknowledged by ES"
            )
        raw = raw_bulk_rate(es_url, prefix, args.events)
        print(f"raw Elasticsearch bulk again, after the agent runs:   {raw:8.0f} events/s")
        lat = latency(es_url, prefix, args.latency_events, args.latency_rate)
        print(
            f"receipt -> searchable at {args.latency_rate:.0f} events/s "
            f"({len(lat)}/{args.latency_events} found): "
            f"p50 {percentile(lat, 50) * 1000:.0f} ms, p99 {percentile(lat, 99) * 1000:.0f} ms "
            "(index refresh interval 1 s)"
        )
    finally:
        if server is not None:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
