"""The metrics agent against a real Trino 476 cluster, scraped by a real Prometheus, and moto's CloudWatch."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric, Role
from node_agent.metrics.command import MetricsAgent, MetricsConfig
from node_agent.trino.admin import TrinoError, TrinoUnavailable

pytestmark = pytest.mark.integration

# About 30 s on one small node (1.1e9 rows): long enough to be seen running by a 0.5 s agent and a
# 1 s Prometheus; the test kills it as soon as it has been seen.
SLOW_QUERY = (
    "SELECT count_if(a.totalprice > b.totalprice + c.regionkey) "
    "FROM tpch.tiny.orders a CROSS JOIN tpch.tiny.orders b CROSS JOIN tpch.tiny.region c"
)


@pytest.fixture(scope="module")
def agents(trino_cluster: Any, moto_server: Any) -> Iterator[dict[str, MetricsAgent]]:
    cluster_name = f"it-{uuid.uuid4().hex[:6]}"
    cloudwatch = moto_server.boto3_client("cloudwatch")
    started: dict[str, MetricsAgent] = {}
    nodes = {
        "coordinator": (trino_cluster.coordinator, Role.COORDINATOR),
        "worker": (trino_cluster.workers[0], Role.WORKER),
    }
    try:
        for name, (node, role) in nodes.items():
            config = MetricsConfig(
                cluster=cluster_name, role=role, node=name, host="127.0.0.1", port=0, interval_seconds=0.5
            )
            agent = MetricsAgent(config, node.admin(), cloudwatch if role is Role.COORDINATOR else None)
            agent.start()
            started[name] = agent
        yield started
    finally:
        for agent in started.values():
            agent.stop()


@pytest.fixture(scope="module")
def prometheus(prometheus_factory: Any, agents: dict[str, MetricsAgent]) -> Any:
    return prometheus_factory.start([f"127.0.0.1:{a.port}" for a in agents.values()], scrape_interval="1s")


def cluster_of(agents: dict[str, MetricsAgent]) -> str:
    return agents["coordinator"].config.cluster


def test_prometheus_sees_both_nodes_up_with_their_roles(
    prometheus: Any, agents: dict[str, MetricsAgent]
) -> None:
    result = prometheus.wait_for(f'count(trino_up{{cluster="{cluster_of(agents)}"}} == 1) == 2', timeout=60)
    assert result
    roles = {
        r["metric"]["role"]
        for r in prometheus.query(f'trino_heap_used_bytes{{cluster="{cluster_of(agents)}"}}')
    }
    assert roles == {"coordinator", "worker"}


def test_active_workers_match_the_cluster(
    prometheus: Any, agents: dict[str, MetricsAgent], trino_cluster: Any
) -> None:
    promql = f'trino_active_workers{{cluster="{cluster_of(agents)}"}}'
    result = prometheus.wait_for(promql, timeout=60)
    assert float(result[0]["value"][1]) == len(trino_cluster.active_worker_ids())


def test_promql_returns_the_running_query_count_while_a_query_runs(
    prometheus: Any, agents: dict[str, MetricsAgent], trino_cluster: Any
) -> None:
    user = f"slow-{uuid.uuid4().hex[:6]}"
    outcome: list[Any] = []
    runner = threading.Thread(
        target=lambda: outcome.append(_run(trino_cluster, SLOW_QUERY, user)), daemon=True
    )
    runner.start()
    promql = f'trino_queries_running{{cluster="{cluster_of(agents)}"}} >= 1'
    try:
        deadline = time.monotonic() + 60
        seen: list[Any] = []
        while not seen and runner.is_alive() and time.monotonic() < deadline:
            seen = prometheus.query(promql)
            time.sleep(0.3)
        assert seen, f"{promql} stayed empty; the query ended with {outcome}"
        assert float(seen[0]["value"][1]) >= 1
    finally:
        _kill_queries_of(trino_cluster, user)
        runner.join(60)
    assert not runner.is_alive(), "the slow query outlived kill_query"


def test_failed_queries_are_counted(
    prometheus: Any, agents: dict[str, MetricsAgent], trino_cluster: Any
) -> None:
    promql = f'trino_queries_failed_total{{cluster="{cluster_of(agents)}"}}'
    before = float(prometheus.wait_for(promql, timeout=60)[0]["value"][1])
    with pytest.raises(TrinoError):
        trino_cluster.query("SELECT * FROM tpch.tiny.no_such_table")
    prometheus.wait_for(f"{promql} > {before}", timeout=60)


def test_cloudwatch_receives_the_cluster_metrics_with_the_cluster_dimension(
    agents: dict[str, MetricsAgent], moto_server: Any
) -> None:
    client = moto_server.boto3_client("cloudwatch")
    wanted = {
        Metric.RUNNING_QUERIES,
        Metric.QUEUED_QUERIES,
        Metric.ACTIVE_WORKERS,
        Metric.CLUSTER_MEMORY_RESERVED_PERCENT,
    }
    dimension = [{"Name": DIMENSION_CLUSTER, "Value": cluster_of(agents)}]
    deadline = time.monotonic() + 60
    names: set[str] = set()
    while time.monotonic() < deadline and not wanted <= names:
        listed = client.list_metrics(Namespace=CLOUDWATCH_NAMESPACE, Dimensions=dimension)["Metrics"]
        names = {m["MetricName"] for m in listed}
        time.sleep(0.5)
    assert wanted <= names
    assert agents["coordinator"].agent_metrics.cloudwatch_puts._value.get() >= 1
    assert agents["coordinator"].agent_metrics.cloudwatch_errors._value.get() == 0


def _run(cluster: Any, sql: str, user: str) -> Any:
    try:
        return cluster.query(sql, user=user, deadline_seconds=300)
    except (TrinoError, TrinoUnavailable) as exc:
        return exc


def _kill_queries_of(cluster: Any, user: str) -> None:
    """Kill `user`'s unfinished queries, as that user (an owner may always kill its own queries)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = cluster.query(
            "SELECT query_id FROM system.runtime.queries "
            f"WHERE user = '{user}' AND state NOT IN ('FINISHED', 'FAILED') "
            "AND query NOT LIKE 'SELECT query_id FROM system.runtime.queries%'",
            user=user,
        ).rows
        if not rows:
            return
        for (query_id,) in rows:
            with contextlib.suppress(TrinoError):  # it may have finished in the meantime
                cluster.query(
                    f"CALL system.runtime.kill_query(query_id => '{query_id}', message => 'test done')",
                    user=user,
                )
        time.sleep(0.5)


def test_a_standby_coordinator_publishes_no_cluster_metrics(trino_cluster: Any, moto_server: Any) -> None:
    """Both coordinators once published cluster series: the standby's zeros halved the memory
    average and its ActiveWorkers kept the no-coordinator alarm quiet. Only the address holder
    speaks for the cluster; the standby still serves its own node series."""
    cluster_name = f"standby-{uuid.uuid4().hex[:6]}"
    cloudwatch = moto_server.boto3_client("cloudwatch")
    config = MetricsConfig(
        cluster=cluster_name, role=Role.COORDINATOR, node="standby", host="127.0.0.1", port=0
    )
    agent = MetricsAgent(config, trino_cluster.coordinator.admin(), cloudwatch, holds_address=lambda: False)
    agent.start()  # serves Prometheus, starts the publisher and the scrape loop
    try:
        snapshot = agent.scrape_once()
        time.sleep(1)  # the publisher thread would have put its datums by now
    finally:
        agent.stop()
    assert snapshot.up and snapshot.node is not None
    assert snapshot.cluster is None and snapshot.holds_address is False
    listed = cloudwatch.list_metrics(
        Namespace=CLOUDWATCH_NAMESPACE, Dimensions=[{"Name": DIMENSION_CLUSTER, "Value": cluster_name}]
    )["Metrics"]
    assert listed == []
    assert agent.agent_metrics.cloudwatch_puts._value.get() == 0


def test_the_coordinator_that_holds_the_address_publishes_the_cluster_metrics(trino_cluster: Any) -> None:
    config = MetricsConfig(cluster="holder", role=Role.COORDINATOR, node="holder", host="127.0.0.1", port=0)
    agent = MetricsAgent(config, trino_cluster.coordinator.admin(), holds_address=lambda: True)
    snapshot = agent.scrape_once()
    assert snapshot.holds_address is True
    # The shared cluster's worker count changes as other tests add and drain workers; what matters
    # here is that the holder reads the cluster series at all, with the workers the coordinator sees.
    assert snapshot.cluster is not None and snapshot.cluster.active_workers >= 1
