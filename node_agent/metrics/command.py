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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node_agent import contract, jsonlog
from node_agent.contract import Role
from node_agent.metrics.cloudwatch import CloudWatchPublisher
from node_agent.metrics.sources import LABELS, AgentMetrics, ClusterNumbers, NodeNumbers, Scraper, Snapshot
from node_agent.trino.admin import TrinoAdmin

log = logging.getLogger(__name__)


# --- Prometheus ----------------------------------------------------------------------------------
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
        if snapshot.holds_address is not None:
            yield self._gauge(
                "trino_coordinator_address_held",
                "1 on the coordinator that holds the cluster's address (the only one with cluster series)",
                1.0 if snapshot.holds_address else 0.0,
            )
        yield from self._node(snapshot.node)
        yield from self._cluster(snapshot.cluster)
        for family in snapshot.passthrough:
            yield self._labelled(family)

    def _labelled(self, family: Metric) -> Metric:
        """A passed-on family (the query-log agent's) with this node's cluster/role/node labels,
        so it joins the other series the way every Trino series does."""
        labelled = Metric(family.name, family.documentation, family.type, family.unit)
        for sample in family.samples:
            labels = {**sample.labels, **{k: self.labels[k] for k in LABELS}}
            labelled.add_sample(sample.name, labels, sample.value, sample.timestamp, sample.exemplar)
        return labelled

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


# --- the agent -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricsConfig:
    cluster: str
    role: Role
    node: str
    trino_url: str = f"http://127.0.0.1:{contract.TRINO_HTTP_PORT}"
    host: str = "0.0.0.0"
    port: int = contract.AGENT_METRICS_PORT
    interval_seconds: float = contract.METRICS_INTERVAL_SECONDS
    querylog_metrics_url: str | None = None
    high_resolution_queue: bool = False  # scalingFastQueueMetric: QueuedQueries at 1 s resolution


class MetricsAgent:
    def __init__(
        self,
        config: MetricsConfig,
        admin: TrinoAdmin,
        cloudwatch: Any | None = None,
        *,
        holds_address: Callable[[], bool] | None = None,
    ) -> None:
        """`holds_address`: see Scraper; a coordinator that does not hold the address publishes
        its node series only, to Prometheus, and nothing to CloudWatch."""
        self.config = config
        self.registry = CollectorRegistry()
        labels = {"cluster": config.cluster, "role": str(config.role), "node": config.node}
        self.agent_metrics = AgentMetrics(self.registry, labels)
        self.collector = SnapshotCollector(labels)
        self.registry.register(self.collector)
        self.scraper = Scraper(
            admin,
            config.role,
            self.agent_metrics,
            querylog_metrics_url=config.querylog_metrics_url,
            holds_address=holds_address,
        )
        self.publisher = (
            CloudWatchPublisher(
                cloudwatch,
                config.cluster,
                self.agent_metrics,
                high_resolution_queue=config.high_resolution_queue,
            )
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

    The flags serve local runs and tests: with --role, --cluster and --trino-url no AWS call is made.
    """
    parser = argparse.ArgumentParser(prog="node-agent metrics", description=__doc__.split("\n")[0])
    parser.add_argument("--env-file", type=Path, help=f"node env file (default {contract.NODE_ENV_FILE})")
    parser.add_argument("--cluster", help="cluster label (default: the node settings' cluster)")
    parser.add_argument("--role", choices=[r.value for r in Role], help="default: from the node env file")
    parser.add_argument("--node", help="node label (default: the EC2 instance id, else the host name)")
    parser.add_argument("--trino-url", help="default: this node's Trino as the node settings describe it")
    parser.add_argument("--port", type=int, default=contract.AGENT_METRICS_PORT)
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help=f"seconds between reads of Trino (default {contract.METRICS_INTERVAL_SECONDS:g}, or "
        f"{contract.FAST_METRICS_INTERVAL_SECONDS:g} with the node settings' fast_queue_metric)",
    )
    parser.add_argument("--no-cloudwatch", action="store_true", help="serve Prometheus only")
    parser.add_argument("--cloudwatch-endpoint", help="CloudWatch endpoint URL (tests)")
    parser.add_argument("--querylog-metrics-url", help="pass on the query-log agent's counters ('' for none)")
    args = parser.parse_args(argv)
    jsonlog.configure("metrics")
    disable_created_metrics()  # *_created series only double the page size

    try:
        node = read_node(args)  # the one read of the node settings: everything below takes them
        role, cluster, region, admin = resolve_node(args, node)
        settings = node[1] if node is not None and role is Role.COORDINATOR else None
        holds_address = address_check(settings)
        fast = fast_queue_metric(settings)
    except Exception as exc:  # NodeConfigError, AwsError: say what is missing and let systemd retry
        print(f"node-agent metrics: {exc}", file=sys.stderr)
        return 2
    cloudwatch = None
    if role is Role.COORDINATOR and not args.no_cloudwatch:
        from node_agent import aws

        cloudwatch = aws.client("cloudwatch", region, endpoint_url=args.cloudwatch_endpoint)
    querylog_url = args.querylog_metrics_url
    if querylog_url is None and role is Role.COORDINATOR:
        querylog_url = f"http://127.0.0.1:{contract.QUERYLOG_PORT}/metrics"
    interval = args.interval or (
        contract.FAST_METRICS_INTERVAL_SECONDS if fast else contract.METRICS_INTERVAL_SECONDS
    )
    config = MetricsConfig(
        cluster=cluster,
        role=role,
        node=args.node or _instance_id() or socket.gethostname(),
        trino_url=admin.base_url,
        port=args.port,
        interval_seconds=interval,
        querylog_metrics_url=querylog_url or None,
        high_resolution_queue=fast,
    )
    agent = MetricsAgent(config, admin, cloudwatch, holds_address=holds_address)
    agent.start()
    log.info("metrics: serving on :%d, reading %s every %.0fs", agent.port, admin.base_url, interval)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    agent.stop()
    return 0


def read_node(args: argparse.Namespace) -> tuple[Role, contract.NodeSettings] | None:
    """This node's role (from the node env file) and its settings (from SSM), read once at start;
    None for local runs (--role, --cluster and --trino-url given), which make no AWS call."""
    if args.role and args.cluster and args.trino_url:
        return None
    from node_agent import node_config

    env = node_config.read_env_file(args.env_file or node_config.default_env_file())
    return env.role, node_config.load_settings(env)


def resolve_node(
    args: argparse.Namespace, node: tuple[Role, contract.NodeSettings] | None
) -> tuple[Role, str, str | None, TrinoAdmin]:
    """(role, cluster, region, Trino client) from flags, else from `node` (read_node's answer).

    The Trino client is the one bootstrap uses: HTTP on loopback as the management user, or, on a
    coordinator with TLS and passwords, HTTPS with the agent's password and the pinned certificate.
    """
    if node is None:
        return (
            Role(args.role),
            args.cluster,
            os.environ.get(contract.NODE_ENV_REGION),
            TrinoAdmin(args.trino_url),
        )
    from node_agent import node_config, render

    node_role, settings = node
    role = Role(args.role) if args.role else node_role
    if args.trino_url:
        admin = TrinoAdmin(args.trino_url)
    else:
        tls = settings.tls
        needs_secrets = role is Role.COORDINATOR and tls.enabled and tls.authentication == "password"
        secrets = (
            node_config.load_secrets(settings, role) if needs_secrets else render.Secrets(shared_secret="")
        )
        admin = node_config.local_admin(settings, role, render.Layout(), secrets)
    return role, args.cluster or settings.cluster, settings.region, admin


def address_check(settings: contract.NodeSettings | None) -> Callable[[], bool] | None:
    """On a node, whether this coordinator holds the cluster's address, asked of IMDS each scrape.

    None for local runs (no settings): a lone coordinator holds it.
    """
    if settings is None:
        return None
    from node_agent.imds import Imds

    imds = Imds(timeout=1.0)
    address = settings.coordinator_address
    return lambda: imds.holds_address(address)


def fast_queue_metric(settings: contract.NodeSettings | None) -> bool:
    """Whether the stack asked for the 10 s queue metric (scalingFastQueueMetric); never for
    local runs (no settings), which publish nowhere that alarms."""
    return settings is not None and settings.fast_queue_metric


def _instance_id() -> str | None:
    from node_agent.imds import Imds, ImdsError

    try:
        return Imds(timeout=1.0).instance_id()
    except (ImdsError, OSError):
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
