"""`node-agent metrics`: Trino's numbers on a Prometheus endpoint, and the coordinator's in CloudWatch.

One thread scrapes Trino on a fixed interval and swaps in a complete snapshot; the Prometheus
endpoint only ever reads the latest snapshot, and CloudWatch gets it through a one-slot mailbox on
its own thread, so neither a hung Trino nor a slow CloudWatch can stall a Prometheus scrape. A Trino
that is down or still starting shows as `trino_up 0` with the agent's scrape errors counted.

Sources (see the facts file, sections 2-3): every node's public `/v1/status` (heap, CPU load);
on the coordinator also `/ui/api/stats` (running / queued / blocked queries, active workers,
reserved memory; Web-UI session), Trino's own `/metrics` as the management user (query counters
since start, cluster memory), and `/v1/status` of each worker listed by `/v1/node` (worker CPU).
Trino's counters reset when Trino restarts; Prometheus' rate() handles that, and the CloudWatch
deltas treat a drop as a restart.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from node_agent import contract, jsonlog
from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Role
from node_agent.contract import Metric as CloudWatchMetric
from node_agent.trino import TrinoAdmin, TrinoError, TrinoUnavailable

log = logging.getLogger(__name__)

LABELS = ("cluster", "role", "node")

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
    stats: dict[str, Any] | None, openmetrics: dict[str, float] | None, worker_cpu_load: float | None
) -> ClusterNumbers:
    stats = stats or {}
    om = {OPENMETRICS[k]: v for k, v in (openmetrics or {}).items() if k in OPENMETRICS}
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
    ) -> None:
        self.admin = admin
        self.role = role
        self.agent_metrics = agent_metrics
        self.worker_admin = worker_admin or (lambda uri: TrinoAdmin(uri, timeout=admin.timeout))
        self.querylog_metrics_url = querylog_metrics_url

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
        cluster = None
        if self.role is Role.COORDINATOR:
            stats = self._read("stats", self.admin.stats)
            text = self._read("openmetrics", lambda: self.admin.metrics(list(OPENMETRICS)))
            cluster = cluster_numbers(stats, parse_openmetrics(text) if text else None, self._worker_cpu())
        return Snapshot(up=True, taken_at=now, node=node, cluster=cluster, passthrough=passthrough)

    def _worker_cpu(self) -> float | None:
        nodes = self._read("nodes", self.admin.nodes)
        # Each entry's `uri` is the URL the coordinator pings, e.g. http://10.0.1.7:8080/v1/status.
        uris = [_origin(n["uri"]) for n in nodes or [] if isinstance(n, dict) and n.get("uri")]
        if not uris:
            return None
        with ThreadPoolExecutor(max_workers=min(8, len(uris))) as pool:
            loads = list(pool.map(self._worker_load, uris))
        known = [v for v in loads if v is not None]
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


# --- Prometheus ----------------------------------------------------------------------------------
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


class SnapshotCollector(Collector):
    """Exposes the latest snapshot; never calls Trino itself."""

    def __init__(self, labels: dict[str, str]) -> None:
        self.labels = labels
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def update(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            snapshot = self._snapshot
        yield self._gauge(
            "trino_up",
            "1 if Trino answered and has finished starting",
            1.0 if snapshot and snapshot.up else 0.0,
        )
        if snapshot is None:
            return
        yield from self._node(snapshot.node)
        yield from self._cluster(snapshot.cluster)
        yield from snapshot.passthrough

    def _node(self, node: NodeNumbers | None) -> Iterator[Metric]:
        if node is None:
            return
        yield self._gauge("trino_heap_used_bytes", "JVM heap in use", node.heap_used_bytes)
        yield self._gauge("trino_heap_max_bytes", "JVM maximum heap (-Xmx)", node.heap_max_bytes)
        yield self._gauge("trino_nonheap_used_bytes", "JVM non-heap memory in use", node.nonheap_used_bytes)
        yield self._gauge(
            "trino_process_cpu_load_ratio", "Trino's share of this node's CPU, 0..1", node.process_cpu_load
        )
        yield self._gauge("trino_system_cpu_load_ratio", "This node's CPU load, 0..1", node.system_cpu_load)
        yield self._gauge("trino_processors", "Processors Trino sees", node.processors)
        yield self._gauge("trino_uptime_seconds", "Time since Trino started", node.uptime_seconds)
        if node.memory_pool_max_bytes is not None:
            yield self._gauge(
                "trino_memory_pool_max_bytes", "Query memory pool size", node.memory_pool_max_bytes
            )
        if node.memory_pool_reserved_bytes is not None:
            yield self._gauge(
                "trino_memory_pool_reserved_bytes",
                "Query memory reserved here",
                node.memory_pool_reserved_bytes,
            )

    def _cluster(self, c: ClusterNumbers | None) -> Iterator[Metric]:
        if c is None:
            return
        gauges = [
            ("trino_queries_running", "Queries running now", c.running_queries),
            ("trino_queries_queued", "Queries waiting in the queue", c.queued_queries),
            ("trino_queries_blocked", "Running queries that are fully blocked", c.blocked_queries),
            ("trino_active_workers", "Active worker nodes", c.active_workers),
            ("trino_cluster_memory_bytes", "Query memory of all nodes", c.memory_total_bytes),
            ("trino_cluster_memory_reserved_bytes", "Query memory reserved", c.memory_reserved_bytes),
            ("trino_cluster_memory_available_bytes", "Query memory not reserved", c.memory_available_bytes),
            ("trino_workers_cpu_load_ratio", "Mean process CPU load of the workers, 0..1", c.worker_cpu_load),
        ]
        for name, doc, value in gauges:
            if value is not None:
                yield self._gauge(name, doc, value)
        counters = [
            ("trino_queries_completed", "Queries that ended, successfully or not", c.completed_queries_total),
            ("trino_queries_failed", "Queries that failed", c.failed_queries_total),
            ("trino_input_bytes", "Bytes read by completed queries", c.input_bytes_total),
            ("trino_input_rows", "Rows read by completed queries", c.input_rows_total),
            ("trino_cpu_seconds", "CPU time used by completed queries", c.cpu_seconds_total),
        ]
        for name, doc, value in counters:
            if value is not None:
                family = CounterMetricFamily(name, doc, labels=list(LABELS))
                family.add_metric([self.labels[k] for k in LABELS], value)
                yield family

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=list(LABELS))
        family.add_metric([self.labels[k] for k in LABELS], value)
        return family


# --- CloudWatch ----------------------------------------------------------------------------------
def metric_data(
    cluster: str, current: ClusterNumbers, previous: ClusterNumbers | None, timestamp: datetime
) -> list[dict[str, Any]]:
    """The coordinator's datums for one interval, in the namespace the scaling policies watch."""
    dimensions = [{"Name": DIMENSION_CLUSTER, "Value": cluster}]
    values: list[tuple[CloudWatchMetric, float | None, str]] = [
        (CloudWatchMetric.RUNNING_QUERIES, current.running_queries, "Count"),
        (CloudWatchMetric.QUEUED_QUERIES, current.queued_queries, "Count"),
        (CloudWatchMetric.BLOCKED_QUERIES, current.blocked_queries, "Count"),
        (CloudWatchMetric.ACTIVE_WORKERS, current.active_workers, "Count"),
        (CloudWatchMetric.FAILED_QUERIES, _delta(current, previous, "failed_queries_total"), "Count"),
        (CloudWatchMetric.COMPLETED_QUERIES, _delta(current, previous, "completed_queries_total"), "Count"),
        (CloudWatchMetric.CLUSTER_MEMORY_RESERVED_PERCENT, _memory_percent(current), "Percent"),
        (
            CloudWatchMetric.CLUSTER_CPU_PERCENT,
            None if current.worker_cpu_load is None else current.worker_cpu_load * 100.0,
            "Percent",
        ),
    ]
    return [
        {
            "MetricName": str(m),
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": float(v),
            "Unit": unit,
        }
        for m, v, unit in values
        if v is not None
    ]


def _delta(current: ClusterNumbers, previous: ClusterNumbers | None, name: str) -> float | None:
    now = getattr(current, name)
    before = None if previous is None else getattr(previous, name)
    if now is None or before is None:
        return None
    return now - before if now >= before else now  # a drop means Trino restarted from zero


def _memory_percent(c: ClusterNumbers) -> float | None:
    if not c.memory_total_bytes or c.memory_reserved_bytes is None:
        return None
    return 100.0 * c.memory_reserved_bytes / c.memory_total_bytes


class CloudWatchPublisher(threading.Thread):
    """One PutMetricData per interval from a one-slot mailbox: a slow call skips, never queues up."""

    def __init__(self, client: Any, cluster: str, agent_metrics: AgentMetrics) -> None:
        super().__init__(name="cloudwatch-publisher", daemon=True)
        self.client = client  # boto3 CloudWatch client; botocore retries with backoff (standard mode)
        self.cluster = cluster
        self.agent_metrics = agent_metrics
        self._slot: Snapshot | None = None
        self._ready = threading.Condition()
        self._stopped = False
        self._previous: ClusterNumbers | None = None

    def offer(self, snapshot: Snapshot) -> None:
        if snapshot.cluster is None:
            return
        with self._ready:
            self._slot = snapshot
            self._ready.notify()

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify()
        self.join(timeout=10)

    def run(self) -> None:
        while True:
            with self._ready:
                while self._slot is None and not self._stopped:
                    self._ready.wait()
                if self._stopped:
                    return
                snapshot, self._slot = self._slot, None
            self.publish(snapshot)

    def publish(self, snapshot: Snapshot) -> None:
        assert snapshot.cluster is not None
        data = metric_data(self.cluster, snapshot.cluster, self._previous, snapshot.taken_at)
        try:
            if data:
                self.client.put_metric_data(Namespace=CLOUDWATCH_NAMESPACE, MetricData=data)
                self.agent_metrics.cloudwatch_puts.inc()
            self._previous = snapshot.cluster
        except Exception as exc:  # botocore already retried; keep the agent alive for the next interval
            log.error("metrics: PutMetricData failed after retries: %s", exc)
            self.agent_metrics.cloudwatch_errors.inc()


def cloudwatch_client(region: str | None, endpoint_url: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=10)
    return boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url, config=config)


# --- the agent -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricsConfig:
    cluster: str
    role: Role
    node: str
    trino_url: str = f"http://127.0.0.1:{contract.TRINO_HTTP_PORT}"
    host: str = "0.0.0.0"
    port: int = contract.AGENT_METRICS_PORT
    interval_seconds: float = 15.0
    querylog_metrics_url: str | None = None


class MetricsAgent:
    def __init__(self, config: MetricsConfig, admin: TrinoAdmin, cloudwatch: Any | None = None) -> None:
        self.config = config
        self.registry = CollectorRegistry()
        labels = {"cluster": config.cluster, "role": str(config.role), "node": config.node}
        self.agent_metrics = AgentMetrics(self.registry, labels)
        self.collector = SnapshotCollector(labels)
        self.registry.register(self.collector)
        self.scraper = Scraper(
            admin, config.role, self.agent_metrics, querylog_metrics_url=config.querylog_metrics_url
        )
        self.publisher = (
            CloudWatchPublisher(cloudwatch, config.cluster, self.agent_metrics)
            if cloudwatch is not None and config.role is Role.COORDINATOR
            else None
        )
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, name="trino-scraper", daemon=True)
        self._server: Any = None
        self.port = config.port

    def start(self) -> None:
        self._server, _ = start_http_server(self.config.port, addr=self.config.host, registry=self.registry)
        self.port = int(self._server.server_address[1])
        if self.publisher:
            self.publisher.start()
        self._loop.start()

    def stop(self) -> None:
        self._stop.set()
        self._loop.join(timeout=30)
        if self.publisher:
            self.publisher.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def scrape_once(self) -> Snapshot:
        snapshot = self.scraper.scrape()
        self.collector.update(snapshot)
        if self.publisher:
            self.publisher.offer(snapshot)
        return snapshot

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.scrape_once()
            except Exception:  # a bug in one scrape must not end the agent
                log.exception("metrics: scrape failed")
                self.agent_metrics.scrape_error("agent")
            self._stop.wait(max(0.0, self.config.interval_seconds - (time.monotonic() - started)))


def main(argv: list[str]) -> int:
    """On a node: no arguments (role, region and settings come from the node env file and SSM).

    The flags serve local runs and tests: with --role and --cluster no AWS call is made.
    """
    parser = argparse.ArgumentParser(prog="node-agent metrics", description=__doc__.split("\n")[0])
    parser.add_argument("--env-file", type=Path, help=f"node env file (default {contract.NODE_ENV_FILE})")
    parser.add_argument("--cluster", help="cluster label (default: the node settings' cluster)")
    parser.add_argument("--role", choices=[r.value for r in Role], help="default: from the node env file")
    parser.add_argument("--node", help="node label (default: the EC2 instance id, else the host name)")
    parser.add_argument("--trino-url", help="default: this node's Trino as the node settings describe it")
    parser.add_argument("--port", type=int, default=contract.AGENT_METRICS_PORT)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between reads of Trino")
    parser.add_argument("--no-cloudwatch", action="store_true", help="serve Prometheus only")
    parser.add_argument("--cloudwatch-endpoint", help="CloudWatch endpoint URL (tests)")
    parser.add_argument("--querylog-metrics-url", help="pass on the query-log agent's counters ('' for none)")
    args = parser.parse_args(argv)
    jsonlog.configure("metrics")
    disable_created_metrics()  # *_created series only double the page size

    try:
        node_env = resolve_node(args)
    except Exception as exc:  # BootstrapError, AwsError: say what is missing and let systemd retry
        print(f"node-agent metrics: {exc}", file=sys.stderr)
        return 2
    role, cluster, region, admin = node_env
    cloudwatch = None
    if role is Role.COORDINATOR and not args.no_cloudwatch:
        cloudwatch = cloudwatch_client(region, args.cloudwatch_endpoint)
    querylog_url = args.querylog_metrics_url
    if querylog_url is None and role is Role.COORDINATOR:
        querylog_url = f"http://127.0.0.1:{contract.QUERYLOG_PORT}/metrics"
    config = MetricsConfig(
        cluster=cluster,
        role=role,
        node=args.node or _instance_id() or socket.gethostname(),
        trino_url=admin.base_url,
        port=args.port,
        interval_seconds=args.interval,
        querylog_metrics_url=querylog_url or None,
    )
    agent = MetricsAgent(config, admin, cloudwatch)
    agent.start()
    log.info("metrics: serving on :%d, reading %s every %.0fs", agent.port, admin.base_url, args.interval)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    agent.stop()
    return 0


def resolve_node(args: argparse.Namespace) -> tuple[Role, str, str | None, TrinoAdmin]:
    """(role, cluster, region, Trino client) from flags, else from the node env file and SSM.

    The Trino client is the one bootstrap uses: HTTP on loopback as the management user, or, on a
    coordinator with TLS and passwords, HTTPS with the agent's password and the pinned certificate.
    """
    if args.role and args.cluster and args.trino_url:
        return (
            Role(args.role),
            args.cluster,
            os.environ.get(contract.NODE_ENV_REGION),
            TrinoAdmin(args.trino_url),
        )
    from node_agent import bootstrap, render

    env = bootstrap.read_env_file(args.env_file or bootstrap.default_env_file())
    settings = bootstrap.load_settings(env)
    role = Role(args.role) if args.role else env.role
    if args.trino_url:
        admin = TrinoAdmin(args.trino_url)
    else:
        tls = settings.tls
        needs_secrets = role is Role.COORDINATOR and tls.enabled and tls.authentication == "password"
        secrets = (
            bootstrap.load_secrets(settings, role) if needs_secrets else render.Secrets(shared_secret="")
        )
        admin = bootstrap.local_admin(settings, role, render.Layout(), secrets)
    return role, args.cluster or settings.cluster, settings.region, admin


def _instance_id() -> str | None:
    from node_agent.imds import Imds, ImdsError

    try:
        return Imds(timeout=1.0).instance_id()
    except (ImdsError, OSError):
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
