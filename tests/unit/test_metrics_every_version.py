"""Every cluster metric a widget, alarm or scaling policy uses is published on every accepted version.

The coordinator's agent reads Trino over HTTP, and which endpoints a release serves changed:
Trino's own /metrics arrived in 407, /v1/jmx/mbean left in 480, and PrestoSQL's beans live under
`presto.*`. The real agent code (Scraper, then the CloudWatch datums) runs here against
StandInTrino, a small server that answers exactly what each release serves (the integration suite
boots the real 476 only; no other release can be booted here), twice, so counters have a delta.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from node_agent.contract import Metric, Role
from node_agent.metrics.cloudwatch import metric_data
from node_agent.metrics.sources import AgentMetrics, Scraper
from node_agent.trino import versions
from node_agent.trino.admin import TrinoAdmin
from tests.unit.cluster_metric_uses import metric_uses
from tools.plan.mocks import Plan

PlanFor = Callable[[str], Plan]
ACCEPTED = range(versions.OLDEST_VERSION, versions.NEWEST_VERSION + 1)
# Published by others than the coordinator's metrics agent, whatever the Trino version.
OTHER_PUBLISHERS = {
    Metric.WORKER_DRAIN_SECONDS,
    Metric.COORDINATOR_FAILOVERS,
    Metric.WORKERS_MARKED_UNHEALTHY,
    Metric.SHUTDOWN_REFUSED,  # a worker's lifecycle agent
    Metric.SYSTEMIC_WORKER_FAULT,  # the worker-health function
    Metric.SWITCHOVERS_NOT_QUIET,  # the failover function's switchover
    Metric.SWITCHOVERS_WITHOUT_STANDBY,
}

# Facts about the releases (trino-facts §2-§3, PrestoServer.java at 330): what the stand-in serves.
QUERY_MANAGER = {
    "CompletedQueries.TotalCount": 40,
    "FailedQueries.TotalCount": 3,
    "ConsumedInputBytes.TotalCount": 1 << 20,
    "ConsumedInputRows.TotalCount": 5000,
    "ConsumedCpuTimeSecs.TotalCount": 12,
}
MEMORY_MANAGER = {"ClusterMemoryBytes": 64 << 30, "ClusterTotalMemoryReservation": 16 << 30}
OPENMETRICS = {
    "trino_execution_name_QueryManager_CompletedQueries": 40,
    "trino_execution_name_QueryManager_FailedQueries": 3,
    "trino_memory_name_ClusterMemoryManager_ClusterMemoryBytes": 64 << 30,
    "trino_memory_name_ClusterMemoryManager_ClusterTotalMemoryReservation": 16 << 30,
}


class StandInTrino(ThreadingHTTPServer):
    """Answers as release `version` would: 404 for every endpoint that release does not have."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.version = versions.NEWEST_VERSION
        self.scrape = 0  # counters grow by one per scrape

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str) -> Any:
        v, grow = self.version, self.scrape
        domain = "presto" if v < versions.FIRST_TRINO else "trino"
        if path == "/v1/info":
            return {"nodeVersion": {"version": str(v)}, "coordinator": True, "starting": False}
        if path == "/v1/status":
            return {"heapUsed": 1, "heapAvailable": 2, "processCpuLoad": 0.5, "systemCpuLoad": 0.6}
        if path == "/ui/api/stats":
            return {"runningQueries": 2, "queuedQueries": 1, "blockedQueries": 0, "activeWorkers": 1}
        if path == "/v1/node":
            return [{"uri": f"{self.url}/v1/status"}]
        if path.startswith("/metrics") and v >= 407:
            return "".join(f"{name} {value + grow}\n" for name, value in OPENMETRICS.items())
        if path.startswith("/v1/jmx/mbean/") and v < 480:
            beans = {
                f"{domain}.execution:name=QueryManager": {k: n + grow for k, n in QUERY_MANAGER.items()},
                f"{domain}.memory:name=ClusterMemoryManager": MEMORY_MANAGER,
            }
            bean = beans.get(urllib.parse.unquote(path.removeprefix("/v1/jmx/mbean/")))
            if bean is not None:
                return {"attributes": [{"name": k, "value": n, "readable": True} for k, n in bean.items()]}
        return None


class _Handler(BaseHTTPRequestHandler):
    server: StandInTrino

    def do_GET(self) -> None:
        body = self.server.answer(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def trino() -> Iterator[StandInTrino]:
    server = StandInTrino()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def published(trino: StandInTrino, version: int) -> set[str]:
    trino.version, trino.scrape = version, 0
    labels = {"cluster": "c", "role": "coordinator", "node": "n"}
    scraper = Scraper(TrinoAdmin(trino.url), Role.COORDINATOR, AgentMetrics(CollectorRegistry(), labels))
    before = scraper.scrape()
    trino.scrape = 1
    after = scraper.scrape()
    assert before.cluster is not None and after.cluster is not None
    return {d["MetricName"] for d in metric_data("c", after.cluster, before.cluster, datetime.now(UTC))}


def test_every_used_cluster_metric_is_published_on_every_accepted_version(
    plan_for: PlanFor, trino: StandInTrino
) -> None:
    used = {u.metric for config in ("dev", "prod") for u in metric_uses(plan_for(config))}
    needed = used - {str(m) for m in OTHER_PUBLISHERS}
    assert {"FailedQueries", "ClusterMemoryReservedPercent", "QueuedQueries"} <= needed
    missing = {v: sorted(needed - got) for v in ACCEPTED if needed - (got := published(trino, v))}
    assert missing == {}
