"""What Trino says about itself, read into typed numbers: one complete snapshot per scrape.

The sources are listed in metrics.py; this module only reads and parses them, so the Prometheus
exposition and the CloudWatch publisher work on the same numbers.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from node_agent.contract import Role
from node_agent.imds import ImdsError
from node_agent.trino import versions
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable

log = logging.getLogger(__name__)

LABELS = ("cluster", "role", "node")
# The holder's worker CPU average (see Scraper.worker_cpu_load): reads at a time, seconds per
# read, seconds for all of them; a worker that has not answered by then is left out of the average.
WORKER_READS = 32
WORKER_READ_SECONDS = 2.0
WORKER_CPU_BUDGET_SECONDS = 8.0

# Trino's /metrics names (476) -> what we read them as. CounterStats are totals since Trino started.
OPENMETRICS = {
    "trino_execution_name_QueryManager_CompletedQueries": "completed_queries",
    "trino_execution_name_QueryManager_FailedQueries": "failed_queries",
    "trino_execution_name_QueryManager_ConsumedInputBytes": "input_bytes",
    "trino_execution_name_QueryManager_ConsumedInputRows": "input_rows",
    "trino_execution_name_QueryManager_ConsumedCpuTimeSecs": "cpu_seconds",
    "trino_memory_name_ClusterMemoryManager_ClusterMemoryBytes": "memory_total_bytes",
    "trino_memory_name_ClusterMemoryManager_ClusterTotalMemoryReservation": "memory_reserved_bytes",
}

# The same counters as JMX attributes, for the releases without /metrics (PrestoSQL 330 to Trino
# 406), read over /v1/jmx/mbean: bean (after the domain) -> attribute -> what we read it as.
JMX = {
    "execution:name=QueryManager": {
        "CompletedQueries.TotalCount": "completed_queries",
        "FailedQueries.TotalCount": "failed_queries",
        "ConsumedInputBytes.TotalCount": "input_bytes",
        "ConsumedInputRows.TotalCount": "input_rows",
        "ConsumedCpuTimeSecs.TotalCount": "cpu_seconds",
    },
    "memory:name=ClusterMemoryManager": {
        "ClusterMemoryBytes": "memory_total_bytes",
        "ClusterTotalMemoryReservation": "memory_reserved_bytes",
    },
}


@dataclass(frozen=True)
class NodeNumbers:
    """One node's own view, from its public /v1/status."""

    heap_used_bytes: float
    heap_max_bytes: float
    nonheap_used_bytes: float
    process_cpu_load: float
    system_cpu_load: float
    processors: float
    uptime_seconds: float
    memory_pool_max_bytes: float | None = None
    memory_pool_reserved_bytes: float | None = None


@dataclass(frozen=True)
class ClusterNumbers:
    """The cluster as the coordinator sees it. Gauges are now; *_total are counters since start."""

    running_queries: float | None = None
    queued_queries: float | None = None
    blocked_queries: float | None = None
    active_workers: float | None = None
    completed_queries_total: float | None = None
    failed_queries_total: float | None = None
    input_bytes_total: float | None = None
    input_rows_total: float | None = None
    cpu_seconds_total: float | None = None
    memory_total_bytes: float | None = None
    memory_reserved_bytes: float | None = None
    worker_cpu_load: float | None = None  # mean process CPU load of the workers, 0..1

    @property
    def memory_available_bytes(self) -> float | None:
        if self.memory_total_bytes is None or self.memory_reserved_bytes is None:
            return None
        return max(0.0, self.memory_total_bytes - self.memory_reserved_bytes)


@dataclass(frozen=True)
class Snapshot:
    up: bool
    taken_at: datetime
    node: NodeNumbers | None = None
    cluster: ClusterNumbers | None = None
    passthrough: list[Metric] = field(default_factory=list)  # e.g. the query-log agent's own counters
    holds_address: bool | None = None  # coordinators: whether this one holds the cluster's address


# --- parsing -----------------------------------------------------------------------------------
def parse_openmetrics(text: str) -> dict[str, float]:
    """Unlabelled samples of Trino's /metrics page.

    Hand-parsed because Trino's counters lack the `_total` suffix that strict OpenMetrics parsers
    insist on; the names we ask for carry no labels.
    """
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2 and "{" not in parts[0]:
            try:
                values[parts[0]] = float(parts[1])
            except ValueError:
                log.debug("metrics: unreadable sample %r", line)
    return values


def node_numbers(status: dict[str, Any]) -> NodeNumbers:
    pool = (status.get("memoryInfo") or {}).get("pool") or {}
    return NodeNumbers(
        heap_used_bytes=float(status["heapUsed"]),
        heap_max_bytes=float(status["heapAvailable"]),  # Runtime.maxMemory(), i.e. -Xmx
        nonheap_used_bytes=float(status.get("nonHeapUsed", 0)),
        process_cpu_load=float(status.get("processCpuLoad", 0)),
        system_cpu_load=float(status.get("systemCpuLoad", 0)),
        processors=float(status.get("processors", 0)),
        uptime_seconds=airlift_seconds(str(status.get("uptime", "0s"))),
        memory_pool_max_bytes=_maybe_float(pool.get("maxBytes")),
        memory_pool_reserved_bytes=_maybe_float(pool.get("reservedBytes")),
    )


def cluster_numbers(
    stats: dict[str, Any] | None,
    openmetrics: dict[str, float] | None,
    worker_cpu_load: float | None,
    jmx: dict[str, float] | None = None,
) -> ClusterNumbers:
    """`openmetrics` by Trino's /metrics names; `jmx` already by our names (see read_jmx)."""
    stats = stats or {}
    om = {**(jmx or {}), **{OPENMETRICS[k]: v for k, v in (openmetrics or {}).items() if k in OPENMETRICS}}
    return ClusterNumbers(
        running_queries=_maybe_float(stats.get("runningQueries")),
        queued_queries=_maybe_float(stats.get("queuedQueries")),
        blocked_queries=_maybe_float(stats.get("blockedQueries")),
        active_workers=_maybe_float(stats.get("activeWorkers")),
        completed_queries_total=om.get("completed_queries"),
        failed_queries_total=om.get("failed_queries"),
        input_bytes_total=om.get("input_bytes"),
        input_rows_total=om.get("input_rows"),
        cpu_seconds_total=om.get("cpu_seconds"),
        memory_total_bytes=om.get("memory_total_bytes"),
        memory_reserved_bytes=_first(
            om.get("memory_reserved_bytes"), _maybe_float(stats.get("reservedMemory"))
        ),
        worker_cpu_load=worker_cpu_load,
    )


_AIRLIFT_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def airlift_seconds(text: str) -> float:
    """'3.52m' -> 211.2 (airlift Duration.toString, as in /v1/status uptime)."""
    for unit in sorted(_AIRLIFT_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * _AIRLIFT_UNITS[unit]
            except ValueError:
                break
    raise ValueError(f"not an airlift duration: {text!r} (expected e.g. 3.52m, 150.00ms)")


def read_jmx(admin: TrinoAdmin, domains: tuple[str, ...]) -> tuple[dict[str, float], str]:
    """The JMX counters by our names, and the domain that answered (tried in the order given).

    A bean missing under one domain (404) is looked up under the next; if no domain has it, the
    last error is raised, so the scrape counts a `jmx` error instead of publishing nothing quietly.
    """
    values: dict[str, float] = {}
    found = domains[0]
    for bean, attributes in JMX.items():
        error: TrinoError | None = None
        for domain in (found, *(d for d in domains if d != found)):
            try:
                answer = admin.mbean(f"{domain}.{bean}")
            except TrinoError as exc:
                error = exc
                continue
            found, error = domain, None
            values.update(
                {ours: float(answer[a]) for a, ours in attributes.items() if answer.get(a) is not None}
            )
            break
        if error is not None:
            raise error
    return values, found


def trino_version(info: dict[str, Any]) -> int | None:
    """The release number of /v1/info's nodeVersion ("476", "350", "476-SNAPSHOT"), if any."""
    text = str((info.get("nodeVersion") or {}).get("version", ""))
    digits = text.split("-")[0].split(".")[0]
    return int(digits) if digits.isdigit() else None


def _origin(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


# --- scraping ----------------------------------------------------------------------------------
class Scraper:
    """Reads Trino once per call; counts its own failures per source."""

    def __init__(
        self,
        admin: TrinoAdmin,
        role: Role,
        agent_metrics: AgentMetrics,
        *,
        worker_admin: Callable[[str], TrinoAdmin] | None = None,
        querylog_metrics_url: str | None = None,
        holds_address: Callable[[], bool] | None = None,
    ) -> None:
        """`holds_address` says whether this coordinator holds the cluster's address right now
        (see Imds.holds_address); None means it always does (a lone coordinator, a local run)."""
        self.admin = admin
        self.role = role
        self.agent_metrics = agent_metrics
        self.worker_admin = worker_admin or (
            lambda uri: TrinoAdmin(uri, timeout=min(admin.timeout, WORKER_READ_SECONDS))
        )
        self.querylog_metrics_url = querylog_metrics_url
        self._jmx_domain: str | None = None
        self.holds_address = holds_address
        self._held = False  # the last answer, kept when IMDS does not answer

    def scrape(self) -> Snapshot:
        started = time.monotonic()
        try:
            return self._scrape()
        finally:
            self.agent_metrics.scrape_duration.set(time.monotonic() - started)

    def _scrape(self) -> Snapshot:
        now = datetime.now(UTC)
        passthrough = self._querylog_families()
        info = self._read("info", self.admin.info)
        if info is None or info.get("starting", False):
            return Snapshot(up=False, taken_at=now, passthrough=passthrough)
        status = self._read("status", self.admin.status)
        if status is None:
            return Snapshot(up=False, taken_at=now, passthrough=passthrough)
        node = node_numbers(status)
        cluster, held = None, None
        if self.role is Role.COORDINATOR:
            held = self._holder()
            # Only the address holder speaks for the cluster: a standby knows no queries and,
            # on Trino 476, sees the holder's workers through discovery, so its numbers would
            # halve the memory average, zero the queue and keep the no-coordinator alarm quiet.
            if held:
                stats = self._read("stats", self.admin.stats)
                version = trino_version(info)
                text, jmx = None, None
                if version is None or versions.has_openmetrics(version):
                    text = self._read("openmetrics", lambda: self.admin.metrics(list(OPENMETRICS)))
                else:  # 330-406 have no /metrics: the same counters over /v1/jmx/mbean
                    jmx = self._read("jmx", lambda: self._jmx(version))
                om = parse_openmetrics(text) if text else None
                cluster = cluster_numbers(stats, om, self.worker_cpu_load(), jmx)
        return Snapshot(
            up=True, taken_at=now, node=node, cluster=cluster, passthrough=passthrough, holds_address=held
        )

    def _holder(self) -> bool:
        if self.holds_address is None:
            return True
        try:
            self._held = self.holds_address()
        except (ImdsError, OSError) as exc:
            log.warning("metrics: cannot tell whether this node holds the address: %s", exc)
            self.agent_metrics.scrape_error("address")
        return self._held

    def _jmx(self, version: int) -> dict[str, float]:
        domains = versions.jmx_domains(version)
        if self._jmx_domain in domains:  # the one that answered last time first
            domains = (self._jmx_domain, *(d for d in domains if d != self._jmx_domain))
        values, self._jmx_domain = read_jmx(self.admin, domains)
        return values

    def worker_cpu_load(self) -> float | None:
        nodes = self._read("nodes", self.admin.nodes)
        # Each entry's `uri` is the URL the coordinator pings, e.g. http://10.0.1.7:8080/v1/status.
        uris = [_origin(n["uri"]) for n in nodes or [] if isinstance(n, dict) and n.get("uri")]
        if not uris:
            return None
        # Bounded whatever the workers do: WORKER_READS at a time, each within WORKER_READ_SECONDS,
        # and the whole average within WORKER_CPU_BUDGET_SECONDS. 8 at a time with the admin's
        # timeout took 70 s for 50 silent workers of 1,000, longer than the 60 s alarm period.
        pool = ThreadPoolExecutor(max_workers=min(WORKER_READS, len(uris)), thread_name_prefix="worker-cpu")
        futures = [pool.submit(self._worker_load, uri) for uri in uris]
        done, late = wait(futures, timeout=WORKER_CPU_BUDGET_SECONDS)
        pool.shutdown(wait=False, cancel_futures=True)  # a late read ends within its own timeout
        if late:
            log.warning(
                "metrics: %d of %d workers gave no status within %.0f s",
                len(late),
                len(uris),
                WORKER_CPU_BUDGET_SECONDS,
            )
            self.agent_metrics.scrape_error("worker_status_late")
        known = [v for v in (f.result() for f in done) if v is not None]
        return sum(known) / len(known) if known else None

    def _worker_load(self, uri: str) -> float | None:
        status = self._read("worker_status", lambda: self.worker_admin(uri).status())
        return None if status is None else float(status.get("processCpuLoad", 0.0))

    def _querylog_families(self) -> list[Metric]:
        if not self.querylog_metrics_url:
            return []
        try:
            with urllib.request.urlopen(self.querylog_metrics_url, timeout=2) as response:
                text = response.read().decode()
        except OSError as exc:
            log.debug("metrics: query-log agent not readable: %s", exc)
            self.agent_metrics.scrape_error("querylog")
            return []
        return [f for f in text_string_to_metric_families(text) if f.name.startswith("trino_querylog_")]

    def _read(self, source: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (TrinoUnavailable, TrinoError, ValueError, KeyError) as exc:
            log.warning("metrics: reading %s from Trino failed: %s", source, exc)
            self.agent_metrics.scrape_error(source)
            return None


class AgentMetrics:
    """The agent's own health, in the same registry and with the same labels as the Trino numbers."""

    def __init__(self, registry: CollectorRegistry, labels: dict[str, str]) -> None:
        names = list(LABELS)
        self._labels = {k: labels[k] for k in LABELS}
        self._scrape_errors = Counter(
            "trino_agent_scrape_errors",
            "Failed reads from Trino, by source",
            [*names, "source"],
            registry=registry,
        )
        self.scrape_duration = Gauge(
            "trino_agent_scrape_duration_seconds",
            "How long the last read of Trino took",
            names,
            registry=registry,
        ).labels(**self._labels)
        self.cloudwatch_puts = Counter(
            "trino_agent_cloudwatch_puts", "PutMetricData calls that worked", names, registry=registry
        ).labels(**self._labels)
        self.cloudwatch_errors = Counter(
            "trino_agent_cloudwatch_errors",
            "PutMetricData calls that failed after retries",
            names,
            registry=registry,
        ).labels(**self._labels)

    def scrape_error(self, source: str) -> None:
        self._scrape_errors.labels(**self._labels, source=source).inc()

    def scrape_errors(self, source: str) -> float:
        return float(self._scrape_errors.labels(**self._labels, source=source)._value.get())
