"""The metrics agent without a running Trino.

Trino's answers are the ones captured from a real Trino 476 (data/trino476). Fakes are used only for
what a real Trino will not do on demand (stay "starting", or hang without answering) and say so.
CloudWatch is moto.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from node_agent import aws
from node_agent.contract import (
    CLOUDWATCH_NAMESPACE,
    DIMENSION_CLUSTER,
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    Metric,
    Role,
)
from node_agent.metrics import command as metrics_command
from node_agent.metrics.cloudwatch import CloudWatchPublisher, metric_data
from node_agent.metrics.command import MetricsAgent, MetricsConfig, SnapshotCollector, read_node, resolve_node
from node_agent.metrics.sources import (
    AgentMetrics,
    ClusterNumbers,
    Snapshot,
    airlift_seconds,
    cluster_numbers,
    node_numbers,
    parse_openmetrics,
)
from node_agent.querylog.command import QuerylogAgent, QuerylogConfig
from node_agent.trino.admin import TrinoAdmin
from tests.node_agent.sample_settings import sample_node_settings

DATA = Path(__file__).parent / "data" / "trino476"
STATUS = json.loads((DATA / "v1_status.json").read_text())
STATS = json.loads((DATA / "ui_api_stats.json").read_text())
OPENMETRICS_TEXT = (DATA / "metrics_filtered.txt").read_text()
NOW = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)
LABELS = {"cluster": "prod", "role": "coordinator", "node": "i-0abc"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def cluster() -> ClusterNumbers:
    return cluster_numbers(STATS, parse_openmetrics(OPENMETRICS_TEXT), worker_cpu_load=0.5)


# --- parsing real Trino answers -----------------------------------------------------------------
def test_trino_counters_without_total_suffix_are_read() -> None:
    values = parse_openmetrics(OPENMETRICS_TEXT)
    assert values["trino_execution_name_QueryManager_CompletedQueries"] == 4
    assert values["trino_execution_name_QueryManager_FailedQueries"] == 2
    assert values["trino_memory_name_ClusterMemoryManager_ClusterMemoryBytes"] == 751619277


def test_node_status_gives_heap_cpu_and_uptime_in_base_units() -> None:
    node = node_numbers(STATUS)
    assert node.heap_max_bytes == 1073741824
    assert 0 < node.heap_used_bytes < node.heap_max_bytes
    assert node.processors == 2
    assert node.uptime_seconds == pytest.approx(airlift_seconds(STATUS["uptime"]))


@pytest.mark.parametrize(
    ("text", "seconds"), [("23.66s", 23.66), ("3.52m", 211.2), ("150.00ms", 0.15), ("2.00h", 7200)]
)
def test_airlift_durations_become_seconds(text: str, seconds: float) -> None:
    assert airlift_seconds(text) == pytest.approx(seconds)


def test_cluster_numbers_combine_ui_stats_and_trino_counters() -> None:
    c = cluster()
    assert c.active_workers == STATS["activeWorkers"]
    assert c.completed_queries_total == 4 and c.failed_queries_total == 2
    assert c.memory_available_bytes == 751619277


# --- Prometheus naming ------------------------------------------------------------------------------
def exposition(snapshot: Snapshot | None) -> dict[str, Any]:
    collector = SnapshotCollector({"cluster": "prod", "role": "coordinator", "node": "i-0abc"})
    if snapshot:
        collector.update(snapshot)
    registry = CollectorRegistry()
    registry.register(collector)
    return families(generate_latest(registry).decode())


def test_every_trino_series_carries_cluster_role_and_node_labels() -> None:
    exposed = exposition(Snapshot(up=True, taken_at=NOW, node=node_numbers(STATUS), cluster=cluster()))
    for family in exposed.values():
        assert family.name.startswith("trino_")
        for sample in family.samples:
            assert sample.labels == {"cluster": "prod", "role": "coordinator", "node": "i-0abc"}


def test_required_series_are_exposed_with_prometheus_names() -> None:
    exposed = exposition(Snapshot(up=True, taken_at=NOW, node=node_numbers(STATUS), cluster=cluster()))
    gauges = {
        "trino_up",
        "trino_queries_running",
        "trino_queries_queued",
        "trino_queries_blocked",
        "trino_active_workers",
        "trino_heap_used_bytes",
        "trino_heap_max_bytes",
        "trino_cluster_memory_reserved_bytes",
        "trino_cluster_memory_available_bytes",
    }
    counters = {
        "trino_queries_completed",
        "trino_queries_failed",
        "trino_input_bytes",
        "trino_input_rows",
        "trino_cpu_seconds",
    }
    assert gauges <= {n for n, f in exposed.items() if f.type == "gauge"}
    assert counters <= {n for n, f in exposed.items() if f.type == "counter"}
    assert all(s.name.endswith("_total") for n in counters for s in exposed[n].samples)


def test_before_the_first_scrape_only_trino_up_zero_is_exposed() -> None:
    exposed = exposition(None)
    assert list(exposed) == ["trino_up"]
    assert exposed["trino_up"].samples[0].value == 0


def test_a_worker_exposes_node_series_but_no_cluster_series() -> None:
    exposed = exposition(Snapshot(up=True, taken_at=NOW, node=node_numbers(STATUS)))
    assert "trino_heap_used_bytes" in exposed
    assert "trino_queries_running" not in exposed


# --- Trino down, starting or hung ---------------------------------------------------------------------
class FakeTrinoServer(HTTPServer):
    """Fake Trino for states a real one will not hold on demand: forever starting, or hung."""

    def __init__(self, hung: bool) -> None:
        super().__init__(("127.0.0.1", 0), _FakeTrinoHandler)
        self.hung = hung
        self.release = threading.Event()


class _FakeTrinoHandler(BaseHTTPRequestHandler):
    server: FakeTrinoServer

    def do_GET(self) -> None:
        if self.server.hung:
            self.server.release.wait(30)
            return
        body = json.dumps({"starting": True, "coordinator": True, "nodeVersion": {"version": "476"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(server: FakeTrinoServer) -> Iterator[FakeTrinoServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def starting_trino() -> Iterator[FakeTrinoServer]:
    yield from serve(FakeTrinoServer(hung=False))


@pytest.fixture
def hung_trino() -> Iterator[FakeTrinoServer]:
    yield from serve(FakeTrinoServer(hung=True))


def agent_for(url: str, timeout: float = 5.0, querylog_metrics_url: str | None = None) -> MetricsAgent:
    """A coordinator's metrics agent for the Trino at `url` (and the query-log agent's counters)."""
    config = MetricsConfig(
        cluster="prod",
        role=Role.COORDINATOR,
        node="n1",
        host="127.0.0.1",
        port=0,
        interval_seconds=0.2,
        querylog_metrics_url=querylog_metrics_url,
    )
    return MetricsAgent(config, TrinoAdmin(url, timeout=timeout))


def querylog_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def scrape(agent: MetricsAgent) -> dict[str, Any]:
    """What Prometheus reads from the running agent's endpoint."""
    return families(requests.get(f"http://127.0.0.1:{agent.port}/metrics", timeout=5).text)


def scraped_once(agent: MetricsAgent) -> dict[str, Any]:
    """The agent's series after one scrape, read from its registry (no endpoint running)."""
    agent.scrape_once()
    return families(generate_latest(agent.registry).decode())


def test_a_trino_that_is_down_gives_trino_up_zero_and_counts_errors() -> None:
    agent = agent_for(f"http://127.0.0.1:{free_port()}")
    agent.start()
    try:
        time.sleep(0.6)
        exposed = scrape(agent)
        assert exposed["trino_up"].samples[0].value == 0
        errors = {
            s.labels["source"]: s.value
            for s in exposed["trino_agent_scrape_errors"].samples
            if s.name.endswith("_total")
        }
        assert errors["info"] >= 2
    finally:
        agent.stop()


def test_a_starting_trino_gives_trino_up_zero_without_errors(starting_trino: FakeTrinoServer) -> None:
    agent = agent_for(f"http://127.0.0.1:{starting_trino.server_address[1]}")
    started = time.monotonic()
    snapshot = agent.scrape_once()
    assert time.monotonic() - started < 2.0  # answered, not timed out
    assert snapshot.up is False
    assert agent.agent_metrics.scrape_errors("info") == 0


def test_a_hung_trino_does_not_stall_the_prometheus_endpoint(hung_trino: FakeTrinoServer) -> None:
    agent = agent_for(f"http://127.0.0.1:{hung_trino.server_address[1]}", timeout=3.0)
    agent.start()
    try:
        time.sleep(0.5)  # the scraper is now stuck in a request to the hung Trino
        started = time.monotonic()
        exposed = scrape(agent)
        assert time.monotonic() - started < 2.0
        assert exposed["trino_up"].samples[0].value == 0
    finally:
        hung_trino.release.set()
        agent.stop()


# --- CloudWatch --------------------------------------------------------------------------------------
def test_cloudwatch_datums_use_the_shared_namespace_names_and_dimension() -> None:
    data = metric_data("prod", cluster(), previous=None, timestamp=NOW)
    names = {d["MetricName"] for d in data}
    assert {
        Metric.RUNNING_QUERIES,
        Metric.QUEUED_QUERIES,
        Metric.ACTIVE_WORKERS,
        Metric.CLUSTER_CPU_PERCENT,
    } <= names
    assert all(d["Dimensions"] == [{"Name": DIMENSION_CLUSTER, "Value": "prod"}] for d in data)


def test_query_counts_are_sent_as_deltas_from_the_second_interval_on() -> None:
    first = cluster()
    assert Metric.FAILED_QUERIES not in {d["MetricName"] for d in metric_data("prod", first, None, NOW)}
    later = ClusterNumbers(**{**first.__dict__, "failed_queries_total": 5.0, "completed_queries_total": 10.0})
    values = {d["MetricName"]: d["Value"] for d in metric_data("prod", later, first, NOW)}
    assert values[Metric.FAILED_QUERIES] == 3
    assert values[Metric.COMPLETED_QUERIES] == 6


def test_a_counter_that_went_down_is_read_as_a_trino_restart() -> None:
    before = ClusterNumbers(failed_queries_total=50.0)
    after = ClusterNumbers(failed_queries_total=2.0)
    values = {d["MetricName"]: d["Value"] for d in metric_data("prod", after, before, NOW)}
    assert values[Metric.FAILED_QUERIES] == 2


def test_memory_and_cpu_are_percentages() -> None:
    c = ClusterNumbers(memory_total_bytes=1000.0, memory_reserved_bytes=250.0, worker_cpu_load=0.42)
    values = {d["MetricName"]: (d["Value"], d["Unit"]) for d in metric_data("prod", c, None, NOW)}
    assert values[Metric.CLUSTER_MEMORY_RESERVED_PERCENT] == (25.0, "Percent")
    assert values[Metric.CLUSTER_CPU_PERCENT] == (pytest.approx(42.0), "Percent")


@mock_aws
def test_one_interval_is_one_batched_put_metric_data_call() -> None:
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    calls: list[int] = []
    client.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: calls.append(len(params["MetricData"])),
    )
    publisher = CloudWatchPublisher(client, "prod", AgentMetrics(CollectorRegistry(), LABELS))
    publisher.publish(Snapshot(up=True, taken_at=datetime.now(UTC), cluster=cluster()))
    assert len(calls) == 1 and calls[0] >= 6
    listed = client.list_metrics(Namespace=CLOUDWATCH_NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in listed} >= {Metric.RUNNING_QUERIES, Metric.QUEUED_QUERIES}
    assert all(m["Dimensions"] == [{"Name": DIMENSION_CLUSTER, "Value": "prod"}] for m in listed)


def test_a_failing_cloudwatch_is_counted_and_the_publisher_goes_on() -> None:
    client = aws.client("cloudwatch", "eu-west-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    client.meta.config.retries["max_attempts"] = 1
    agent_metrics = AgentMetrics(CollectorRegistry(), LABELS)
    publisher = CloudWatchPublisher(client, "prod", agent_metrics)
    publisher.publish(Snapshot(up=True, taken_at=datetime.now(UTC), cluster=cluster()))
    publisher.publish(Snapshot(up=True, taken_at=datetime.now(UTC), cluster=cluster()))
    assert agent_metrics.cloudwatch_errors._value.get() == 2


@mock_aws
def test_the_publisher_only_sends_the_latest_snapshot_after_a_busy_spell() -> None:
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    sent: list[dict[str, float]] = []
    client.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: sent.append({d["MetricName"]: d["Value"] for d in params["MetricData"]}),
    )
    publisher = CloudWatchPublisher(client, "prod", AgentMetrics(CollectorRegistry(), LABELS))
    for running in (1.0, 2.0, 3.0):  # offered while the publisher thread is not yet taking any
        publisher.offer(Snapshot(up=True, taken_at=NOW, cluster=ClusterNumbers(running_queries=running)))
    publisher.start()
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    publisher.stop()
    assert sent == [{Metric.RUNNING_QUERIES: 3.0}]


# --- the query-log agent's counters -------------------------------------------------------------------
def no_bulk(docs: list[dict[str, Any]]) -> Any:
    raise AssertionError("a discarding query log never ships")


@pytest.fixture
def querylog(tmp_path: Path) -> Iterator[QuerylogAgent]:
    """A serving query-log agent that discards events (never ships), for its /metrics page."""
    agent = QuerylogAgent(QuerylogConfig(port=0, spool_dir=tmp_path / "spool", discard=True), bulk=no_bulk)
    agent._serve.start()
    try:
        yield agent
    finally:
        agent.server.shutdown()
        agent.server.server_close()
        agent.spool.close()


def test_the_query_log_agents_counters_are_passed_on(querylog: QuerylogAgent) -> None:
    querylog.metrics.dropped.inc(3)
    agent = agent_for(f"http://127.0.0.1:{free_port()}", querylog_metrics_url=querylog_url(querylog.port))
    exposed = scraped_once(agent)
    assert exposed["trino_querylog_events_dropped"].samples[0].value == 3
    assert exposed["trino_up"].samples[0].value == 0  # Trino is down; the query log still shows
    assert exposed["trino_querylog_events_dropped"].samples[0].labels == {
        "cluster": "prod",
        "role": "coordinator",
        "node": "n1",
    }


def test_query_log_series_carry_the_cluster_role_and_node_labels_the_rest_carry(
    querylog: QuerylogAgent,
) -> None:
    querylog.metrics.retried.labels(status="403").inc(2)
    agent = agent_for(f"http://127.0.0.1:{free_port()}", querylog_metrics_url=querylog_url(querylog.port))
    exposed = scraped_once(agent)
    trino_up_labels = exposed["trino_up"].samples[0].labels
    for name, family in exposed.items():
        if name.startswith("trino_querylog_"):
            for sample in family.samples:
                assert {k: sample.labels.get(k) for k in trino_up_labels} == trino_up_labels, name
    retried = exposed["trino_querylog_events_retried"].samples[0]
    assert retried.labels == {**trino_up_labels, "status": "403"}


def test_a_missing_query_log_agent_is_a_counted_scrape_error() -> None:
    agent = agent_for(f"http://127.0.0.1:{free_port()}", querylog_metrics_url=querylog_url(free_port()))
    agent.scrape_once()
    assert agent.agent_metrics.scrape_errors("querylog") == 1


# --- how a node's agent finds its settings -------------------------------------------------------------
@mock_aws
def test_on_a_node_role_cluster_and_trino_come_from_the_env_file_and_ssm(tmp_path: Path) -> None:
    settings = sample_node_settings(cluster="prod")
    boto3.client("ssm", region_name="eu-west-1").put_parameter(
        Name="/prod/node", Value=settings.to_json(), Type="SecureString"
    )
    env = tmp_path / "node.env"
    env.write_text(
        f"{NODE_ENV_SETTINGS_PARAMETER}=/prod/node\n{NODE_ENV_ROLE}=worker\n{NODE_ENV_REGION}=eu-west-1\n"
    )
    args = argparse.Namespace(env_file=env, role=None, cluster=None, trino_url=None)
    role, cluster, region, admin = resolve_node(args, read_node(args))
    assert (role, cluster, region) == (Role.WORKER, "prod", "eu-west-1")
    assert admin.base_url == "http://127.0.0.1:8080"


class Started(Exception):
    """Raised in place of starting the agent: main got as far as serving."""


def test_the_metrics_agent_reads_its_node_settings_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A coordinator's agent needs its settings for its role, cluster and Trino client, and again
    for the address check and the queue metric's resolution; SSM is asked once for all of them."""
    settings = sample_node_settings(cluster="prod")
    reads: list[str] = []

    def get_parameter(name: str, region: str, **_: object) -> str:
        reads.append(name)
        return settings.to_json()

    def started(config: MetricsConfig, *_: object, **__: object) -> None:
        raise Started(config)

    monkeypatch.setattr(aws, "get_parameter", get_parameter)
    monkeypatch.setattr(metrics_command, "MetricsAgent", started)
    monkeypatch.setattr(metrics_command.jsonlog, "configure", lambda component: None)
    monkeypatch.setattr(metrics_command, "disable_created_metrics", lambda: None)
    env = tmp_path / "node.env"
    env.write_text(
        f"{NODE_ENV_SETTINGS_PARAMETER}=/prod/node\n{NODE_ENV_ROLE}=coordinator\n{NODE_ENV_REGION}=eu-west-1\n"
    )
    with pytest.raises(Started) as serving:
        metrics_command.main(["--env-file", str(env), "--node", "n1", "--no-cloudwatch"])
    config = serving.value.args[0]
    assert (config.role, config.cluster) == (Role.COORDINATOR, "prod")
    assert reads == ["/prod/node"]


def test_the_agents_own_series_carry_the_same_labels() -> None:
    exposed = scraped_once(agent_for(f"http://127.0.0.1:{free_port()}"))
    own = [f for name, f in exposed.items() if name.startswith("trino_agent_")]
    assert {f.name for f in own} >= {"trino_agent_scrape_errors", "trino_agent_scrape_duration_seconds"}
    for family in own:
        for sample in family.samples:
            assert {"cluster": "prod", "role": "coordinator", "node": "n1"}.items() <= sample.labels.items()
