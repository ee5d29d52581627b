"""Trino 483, the release users pick today, on a real server: assembled from Maven Central's jars
(tools/harness/assembled.py; no 483 server tarball is published), rendered by the node agent.

What 483 changed that the agent and the functions depend on, each proven here: nodes announce
themselves (no discovery server, no GET /v1/node), the internal token's key is HKDF-derived, and
the Web UI logs in at /ui/auth/login. Not proven on 483: the query log (the HTTP event listener
is not on Maven Central after 368, so TrinoFactory takes it out of the render: the one difference
from the production render here) and password authentication (the password authenticators
plugin is not served either); both stay proven on 476. Every other optional feature the stack
can turn on boots a render of its own here.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from node_agent import render
from node_agent.contract import NodeSettings, Role, TlsSettings
from node_agent.metrics.sources import AgentMetrics, Scraper
from node_agent.trino.admin import TrinoError, TrinoUnavailable
from node_agent.trino.discovery import hand_over_workers, internal_bearer
from node_agent.trino.health import probe_coordinator
from tools.harness.certs import issue_certificate
from tools.harness.trino import TrinoCluster, TrinoFactory, default_settings, harness_secrets

pytestmark = pytest.mark.integration
VERSION = 483


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrinoFactory]:
    made = TrinoFactory(tmp_path_factory.mktemp("trino483"), version=VERSION)
    try:
        yield made
    finally:
        made.stop_all()


@pytest.fixture(scope="module")
def cluster(factory: TrinoFactory) -> TrinoCluster:
    return factory.start_cluster(workers=1, settings=default_settings(VERSION))


def test_the_483_render_boots_both_roles_and_runs_a_query(cluster: TrinoCluster) -> None:
    assert cluster.query("SELECT count(*) FROM tpch.tiny.nation").rows == [[25]]
    info = cluster.admin().info()
    assert info["nodeVersion"]["version"] == "483"
    assert len(cluster.active_worker_ids()) == 1


def test_the_render_is_the_production_one_but_for_the_event_listener(cluster: TrinoCluster) -> None:
    config = (cluster.coordinator.etc_dir / "config.properties").read_text()
    assert "discovery.type=announce" in config and "discovery.uri=" in config
    assert "event-listener.config-files" not in config  # taken out: no plugin on Maven Central


def test_the_failover_probe_calls_a_healthy_483_coordinator_healthy(cluster: TrinoCluster) -> None:
    """Its third step used GET /v1/node, which 483 does not serve (404)."""
    probe = probe_coordinator(cluster.admin())
    assert probe.healthy, probe.reason


def test_the_coordinator_lists_its_workers_on_483(cluster: TrinoCluster) -> None:
    uris = [node["uri"] for node in cluster.admin().nodes()]
    assert uris == [cluster.workers[0].url]


def test_the_ui_stats_log_in_on_483(cluster: TrinoCluster) -> None:
    """483's new Web UI answers 405 at /ui/login; the admin client logs in at /ui/auth/login."""
    stats = cluster.admin().stats()
    assert stats["activeWorkers"] == 1


def test_the_metrics_agent_reads_the_cluster_numbers_on_483(cluster: TrinoCluster) -> None:
    labels = {"cluster": "c", "role": "coordinator", "node": "n"}
    snapshot = Scraper(cluster.admin(), Role.COORDINATOR, AgentMetrics(CollectorRegistry(), labels)).scrape()
    assert snapshot.up and snapshot.cluster is not None
    assert snapshot.cluster.worker_cpu_load is not None


def test_a_476_token_is_refused_and_a_483_token_accepted(cluster: TrinoCluster) -> None:
    secret = cluster.secrets.shared_secret
    admin = cluster.admin()
    with pytest.raises(TrinoError, match="401"):
        admin.internal_announce("http://127.0.0.1:1", internal_bearer(secret, "failover", version=476))
    admin.internal_announce("http://127.0.0.1:1", internal_bearer(secret, "failover", version=483))
    assert "http://127.0.0.1:1" in admin.announced()


def test_the_switchover_hand_over_gives_a_483_standby_the_workers(
    factory: TrinoFactory, cluster: TrinoCluster
) -> None:
    """A second coordinator of the same cluster (same secret), which no worker announces to."""
    standby = factory.start_node(
        None, Role.COORDINATOR, settings=cluster.settings, secrets=cluster.secrets, cluster_name="standby"
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not probe_coordinator(standby.admin()).healthy:
            time.sleep(0.5)
        secret = cluster.secrets.shared_secret
        assert hand_over_workers(cluster.admin(), standby.admin(), secret, "failover") >= 1
        counted: set[str] = set()
        while time.monotonic() < deadline and counted != cluster.active_worker_ids():
            time.sleep(0.5)
            rows = (
                standby.admin()
                .query(
                    "SELECT node_id FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'"
                )
                .rows
            )
            counted = {str(r[0]) for r in rows}
        assert counted == cluster.active_worker_ids()
    finally:
        standby.stop()


def _with_tls(settings: NodeSettings, _: Path) -> NodeSettings:
    tls = TlsSettings(enabled=True, keystore_secret_arn="arn:aws:secretsmanager:eu-west-1:1:secret:k")
    return dataclasses.replace(settings, tls=tls)


# Each optional feature the stack config turns on that 483 can run without a plugin Maven Central
# lacks (the query log and password authentication cannot: see the module docstring). The task
# retry's exchange is rendered as a stack deploys it (an S3 bucket) and as a rehearsal does (a
# local directory).
FEATURES: dict[str, Callable[[NodeSettings, Path], NodeSettings]] = {
    "spill": lambda s, _: dataclasses.replace(s, spill_enabled=True),
    "query retries": lambda s, _: dataclasses.replace(s, retry_policy="QUERY"),
    "task retries, S3 exchange": lambda s, _: dataclasses.replace(
        s, retry_policy="TASK", exchange_bucket="presto-on-aws-exchange-test"
    ),
    "task retries, local exchange": lambda s, d: dataclasses.replace(
        s, retry_policy="TASK", exchange_bucket=str(d)
    ),
    "https": _with_tls,
    "catalogs and overrides": lambda s, _: dataclasses.replace(
        s,
        catalogs={**s.catalogs, "scratch": {"connector.name": "memory", "memory.max-data-per-node": "64MB"}},
        config_overrides={"query.max-execution-time": "30m", "query.max-memory": "1GB"},
    ),
}


@pytest.mark.parametrize("feature", list(FEATURES))
def test_the_483_render_of_each_optional_feature_boots_cleanly(
    factory: TrinoFactory, feature: str, tmp_path: Path
) -> None:
    settings = FEATURES[feature](default_settings(VERSION), tmp_path)
    secrets = harness_secrets()
    if settings.tls.enabled:
        leaf = issue_certificate("127.0.0.1", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
        secrets = render.Secrets(
            shared_secret=secrets.shared_secret, keystore_pem=leaf.certificate_pem + leaf.key_pem
        )
    s3_exchange = str(settings.exchange_bucket or "").startswith("presto-on-aws-")
    # With the S3 exchange every query runs under task retries and writes to S3, which is not
    # reachable here (measured: even the harness's node listing fails after 60 s in the AWS SDK).
    # Both nodes starting and the worker counted active in the web UI's stats is what proves the
    # render: Trino refuses an unknown or unused property at start-up.
    booted = factory.start_cluster(workers=1, settings=settings, secrets=secrets, wait=not s3_exchange)
    try:
        if s3_exchange:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not _one_worker_counted(booted):
                assert booted.coordinator.running() and booted.workers[0].running(), (
                    booted.coordinator.log_tail()
                )
                time.sleep(1)
            assert _one_worker_counted(booted)
            exchange = (booted.coordinator.etc_dir / "exchange-manager.properties").read_text()
            assert "exchange.base-directories=s3://presto-on-aws-exchange-test" in exchange
        else:
            assert booted.query("SELECT count(*) FROM tpch.tiny.nation").rows == [[25]]
            assert len(booted.active_worker_ids()) == 1
    finally:
        booted.stop()


def _one_worker_counted(cluster: TrinoCluster) -> bool:
    try:
        return int(cluster.admin().stats().get("activeWorkers", 0)) == 1
    except (TrinoError, TrinoUnavailable):
        return False


def test_a_483_worker_asked_to_shut_down_drains_and_exits_cleanly(cluster: TrinoCluster) -> None:
    worker = cluster.workers[-1]
    worker.admin().shutdown()
    assert worker.wait_exit(120) == 0
