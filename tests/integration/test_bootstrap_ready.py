"""What bootstrap renders and how the agent reaches its Trino, on real Trino 476 nodes.

- The ready gate passes on a real cluster only once workers are active and catalogs answer.
- A TLS coordinator with password authentication still lets the agent in (HTTPS on loopback, its
  own password, the cluster certificate pinned), while identity-only requests over plain HTTP,
  which would skip the password, are refused.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import bcrypt
import pytest

from node_agent import node_config, render
from node_agent.bootstrap import command as bootstrap
from node_agent.contract import MANAGEMENT_USER, NodeSettings, Role, TlsSettings
from node_agent.trino.admin import TrinoAdmin, TrinoError
from tools.harness.certs import issue_certificate
from tools.harness.trino import TrinoCluster, TrinoFactory, default_settings

pytestmark = pytest.mark.integration

AGENT_PASSWORD = "agent-password-for-tests"
ALICE_PASSWORD = "alice-password-for-tests"


def test_ready_gate_passes_on_a_cluster_with_active_workers(trino_cluster: TrinoCluster) -> None:
    proof = bootstrap.wait_ready(
        trino_cluster.admin(),
        trino_cluster.settings,
        Role.COORDINATOR,
        node_id=trino_cluster.coordinator.node_id,
        min_workers=1,
        timeout=60,
    )
    assert "active workers" in proof and "tpch" in proof


def test_ready_gate_waits_for_more_workers_than_there_are(trino_cluster: TrinoCluster) -> None:
    with pytest.raises(bootstrap.BootstrapError, match="of 9 workers active"):
        bootstrap.wait_ready(
            trino_cluster.admin(),
            trino_cluster.settings,
            Role.COORDINATOR,
            node_id=trino_cluster.coordinator.node_id,
            min_workers=9,
            timeout=3,
            interval=1,
        )


@dataclasses.dataclass
class Booting:
    """This module's own clusters, launched together and not waited for: the lone coordinator's
    test and the TLS cluster's fixture each wait with the agent's gate. Side by side their JVMs
    use the two cores that one boot alone leaves partly idle."""

    lone: TrinoCluster  # a coordinator without workers
    tls: TrinoCluster  # a TLS + password coordinator and one worker
    tls_settings: NodeSettings
    tls_secrets: render.Secrets
    keystore_pem: str


@pytest.fixture(scope="module")
def booting(trino_factory: TrinoFactory) -> Iterator[Booting]:
    certificate, key = issue_certificate("localhost", dns_names=["localhost"], ip_addresses=["10.0.0.10"])
    alice_hash = bcrypt.hashpw(ALICE_PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    secrets = render.Secrets(
        shared_secret="tls-cluster-shared-secret",
        management_password=AGENT_PASSWORD,
        keystore_pem=certificate + key,
        password_file=f"alice:$2y{alice_hash[3:]}\n",
    )
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    tls = TlsSettings(
        enabled=True,
        authentication="password",
        keystore_secret_arn=arn + "keystore",
        password_file_secret_arn=arn + "users",
        management_password_secret_arn=arn + "agent",
    )
    settings = default_settings(tls=tls)
    started: list[TrinoCluster] = []
    try:
        started.append(trino_factory.start_cluster(workers=0, wait=False))
        # The harness gates readiness over plain HTTP, which this coordinator refuses by design;
        # the agent's own gate (see tls_cluster) is the readiness check here.
        started.append(trino_factory.start_cluster(workers=1, settings=settings, secrets=secrets, wait=False))
        yield Booting(started[0], started[1], settings, secrets, certificate + key)
    finally:
        for cluster in started:
            cluster.stop()


def test_ready_gate_without_required_workers_passes_on_a_lone_coordinator(booting: Booting) -> None:
    """What the AMI's trino.service runs (--min-workers 0): a new cluster's coordinator is ready
    before any worker has joined, or the agents that scale the workers out would never start."""
    cluster = booting.lone
    try:
        proof = bootstrap.wait_ready(
            cluster.admin(),
            cluster.settings,
            Role.COORDINATOR,
            node_id=cluster.coordinator.node_id,
            min_workers=0,
            timeout=240,
        )
        assert "started and ACTIVE" in proof
    finally:
        cluster.stop()


def test_ready_gate_sees_a_worker_through_its_coordinator(trino_cluster: TrinoCluster) -> None:
    worker = trino_cluster.workers[0]
    proof = bootstrap.wait_ready(
        worker.admin(),
        trino_cluster.settings,
        Role.WORKER,
        node_id=worker.node_id,
        timeout=60,
        coordinator=trino_cluster.admin(),
    )
    assert worker.node_id in proof


@dataclasses.dataclass
class TlsCluster:
    cluster: TrinoCluster
    agent: TrinoAdmin
    https_url: str
    keystore_pem: str

    def client(self, user: str, password: str) -> TrinoAdmin:
        """Someone else on HTTPS, trusting the same certificate as the agent."""
        context = node_config.pinned_context(self.keystore_pem)
        return TrinoAdmin(self.https_url, user=user, password=password, timeout=30, ssl_context=context)


@pytest.fixture(scope="module")
def tls_cluster(booting: Booting) -> TlsCluster:
    cluster, settings, secrets = booting.tls, booting.tls_settings, booting.tls_secrets
    config = dict(
        line.split("=", 1)
        for line in (cluster.coordinator.etc_dir / "config.properties").read_text().splitlines()
    )
    layout = render.Layout(https_port=int(config["http-server.https.port"]))
    agent = node_config.local_admin(settings, Role.COORDINATOR, layout, secrets, timeout=30)
    bootstrap.wait_ready(
        agent, settings, Role.COORDINATOR, node_id=cluster.coordinator.node_id, min_workers=1, timeout=240
    )
    return TlsCluster(cluster, agent, f"https://127.0.0.1:{layout.https_port}", booting.keystore_pem)


def test_agent_runs_queries_on_a_tls_coordinator_with_its_own_password(tls_cluster: TlsCluster) -> None:
    assert tls_cluster.agent.query("SELECT count(*) FROM tpch.tiny.nation").rows == [[25]]


def test_agent_reads_cluster_stats_through_the_web_ui_login(tls_cluster: TlsCluster) -> None:
    # What is proven is the login; the count is the failure detector's view, which a CI run with
    # every core busy saw drop the worker for a moment (0 once, after the ready gate had read 1).
    deadline = time.monotonic() + 60
    while (stats := tls_cluster.agent.stats())["activeWorkers"] != 1 and time.monotonic() < deadline:
        time.sleep(1)
    assert stats["activeWorkers"] == 1


def test_agent_scrapes_metrics_on_a_tls_coordinator(tls_cluster: TlsCluster) -> None:
    assert "trino_" in tls_cluster.agent.metrics()


def test_a_user_with_a_password_queries_over_https(tls_cluster: TlsCluster) -> None:
    alice = tls_cluster.client("alice", ALICE_PASSWORD)
    assert alice.query("SELECT count(*) FROM tpch.tiny.region").rows == [[5]]


def test_a_wrong_password_is_refused(tls_cluster: TlsCluster) -> None:
    mallory = tls_cluster.client("alice", "guess")
    with pytest.raises(TrinoError) as refused:
        mallory.query("SELECT 1")
    assert refused.value.status == 401


def test_identity_without_password_over_plain_http_is_refused(tls_cluster: TlsCluster) -> None:
    sneaky = TrinoAdmin(tls_cluster.cluster.coordinator.url, user=MANAGEMENT_USER, timeout=30)
    with pytest.raises(TrinoError) as refused:
        sneaky.query("SELECT 1")
    assert refused.value.status in (401, 403)
