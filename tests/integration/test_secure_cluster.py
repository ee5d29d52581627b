"""A secured cluster end to end: real Trino 476 with HTTPS, passwords and the shared secret.

One module-scoped cluster (a TLS + password coordinator and one worker, both with the cluster's
shared secret) carries every check, so CI pays for one boot. Its certificate is issued by a
throwaway test CA for the address clients use (127.0.0.1 here, the coordinator ENI's address in
AWS), and every client below verifies it against that CA, host name included, the way a user's
client or the query log's Elasticsearch link does. What runs against it is what runs on a node:
the agent's own client (`node_config.local_admin`), the metrics agent, the query-log agent, the
failover function's probe with the environment the stack gives it, and the lifecycle agent's drain.

The drain test stops the only worker, so it is the last test in this module.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pwd
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from components.base import REPO_ROOT
from node_agent import node_config, render
from node_agent.bootstrap import command as bootstrap
from node_agent.contract import (
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    ElasticsearchSettings,
    FunctionEnv,
    NodeSettings,
    Role,
    TlsSettings,
)
from node_agent.imds import Imds
from node_agent.lifecycle.command import LifecycleAgent, build_config
from node_agent.lifecycle.drain_state import StateStore
from node_agent.metrics.command import MetricsAgent, MetricsConfig
from node_agent.querylog.store.elastic import make_client
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable
from node_agent.trino.process import TrinoProcess
from tools.harness.certs import issue_certificate
from tools.harness.elasticsearch import Elasticsearch
from tools.harness.failover_function import load_failover_handler
from tools.harness.fakes import FakeImds, StandInLifecycleApi, instance_metadata
from tools.harness.moto import REGION, ClusterResources, MotoServer
from tools.harness.ports import free_port
from tools.harness.trino import TrinoCluster, TrinoFactory, default_settings

pytestmark = pytest.mark.integration

REPO = REPO_ROOT
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
# The dev stack deploys to eu-west-1, and a stack refuses secrets from another region.
DEV_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"
AGENT_PASSWORD = "agent-password-for-secure-tests"
ALICE_PASSWORD = "alice-password-for-secure-tests"
SHARED_SECRET = "secure-cluster-shared-secret-for-tests"


# --- a test CA and the cluster's certificate ----------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Pki:
    ca_pem: str
    certificate_pem: str  # the coordinator's, issued by the CA
    key_pem: str

    @property
    def keystore_pem(self) -> str:
        """What the stack's certificate secret holds: the chain (leaf first) and the key."""
        return self.certificate_pem + self.ca_pem + self.key_pem


def issue_test_pki(address: str = "127.0.0.1") -> Pki:
    """A CA valid for a day and a server certificate it signs for `address` (an IP SAN)."""
    ca = issue_certificate("presto-on-aws test CA", certificate_authority=True)
    leaf = issue_certificate(address, dns_names=["localhost"], ip_addresses=[address], issuer=ca)
    return Pki(ca_pem=ca.certificate_pem, certificate_pem=leaf.certificate_pem, key_pem=leaf.key_pem)


def trino_bcrypt(password: str) -> str:
    """A bcrypt hash the way Trino's file authenticator reads it ($2y$, cost >= 8)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()
    return "$2y" + hashed[3:]


# --- Elasticsearch with security on ---------------------------------------------------------------
QUERYLOG_ES_USER = "trino-querylog"
QUERYLOG_ES_PASSWORD = "querylog-password-for-secure-tests"
ES_ADMIN_USER = "test-admin"
ES_ADMIN_PASSWORD = "admin-password-for-secure-tests"
# What the query log needs and nothing more: its index template, and writing its daily indices.
QUERYLOG_ES_ROLE = """\
querylog_writer:
  cluster: ["manage_index_templates"]
  indices:
    - names: ["{prefix}-*"]
      privileges: ["create_index", "create_doc", "index"]
"""


class SecureElasticsearch(Elasticsearch):
    """The harness's Elasticsearch with security on: HTTPS with a certificate from the test CA,
    and the file realm (bcrypt hashes in `users`), the way a production cluster is reached."""

    def __init__(self, base_dir: Path, pki: Pki, index_prefix: str) -> None:
        self._pki = pki
        self._index_prefix = index_prefix
        super().__init__(base_dir)
        self.url = f"https://127.0.0.1:{self.http_port}"
        self.ca_file = self.base_dir / "config" / "certs" / "ca.pem"

    def _prepare(self) -> None:
        super()._prepare()
        conf = self.base_dir / "config"
        yml = conf / "elasticsearch.yml"
        lines = [line for line in yml.read_text().splitlines() if not line.startswith("xpack.security.")]
        lines += [
            "xpack.security.enabled: true",
            "xpack.security.autoconfiguration.enabled: false",
            "xpack.security.http.ssl.enabled: true",
            "xpack.security.http.ssl.certificate: certs/http.pem",
            "xpack.security.http.ssl.key: certs/http.key",
            "xpack.security.http.ssl.certificate_authorities: [certs/ca.pem]",
            "xpack.security.transport.ssl.enabled: false",  # one node on loopback: no transport peers
        ]
        yml.write_text("\n".join(lines) + "\n")
        certs = conf / "certs"
        certs.mkdir(exist_ok=True)
        (certs / "http.pem").write_text(self._pki.certificate_pem + self._pki.ca_pem)
        (certs / "http.key").write_text(self._pki.key_pem)
        (certs / "ca.pem").write_text(self._pki.ca_pem)

        def es_bcrypt(password: str) -> str:
            return "$2a" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()[3:]

        (conf / "users").write_text(
            f"{QUERYLOG_ES_USER}:{es_bcrypt(QUERYLOG_ES_PASSWORD)}\n"
            f"{ES_ADMIN_USER}:{es_bcrypt(ES_ADMIN_PASSWORD)}\n"
        )
        (conf / "users_roles").write_text(f"querylog_writer:{QUERYLOG_ES_USER}\nsuperuser:{ES_ADMIN_USER}\n")
        (conf / "roles.yml").write_text(QUERYLOG_ES_ROLE.format(prefix=self._index_prefix))
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in [conf, *conf.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.returncode()
            if code is not None:
                raise AssertionError(f"secure Elasticsearch exited with {code}:\n{self.process.tail(40)}")
            try:
                health = self.client().cluster.health()
                if health["status"] in ("green", "yellow"):
                    return
                last = f"status {health['status']}"
            except Exception as exc:  # not listening yet, TLS not up yet, security index not ready
                last = str(exc)
            time.sleep(1)
        tail = self.process.tail(40)
        self.process.stop(10)
        raise AssertionError(f"secure Elasticsearch not ready after {timeout:.0f}s ({last}):\n{tail}")

    def client(self) -> Any:
        """An administrator's client (the test's own reads), verifying the server like the agent."""
        from elasticsearch import Elasticsearch as Client

        return Client(
            self.url,
            basic_auth=(ES_ADMIN_USER, ES_ADMIN_PASSWORD),
            ca_certs=str(self.base_dir / "config" / "certs" / "ca.pem"),
            request_timeout=30,
        )


# --- the secured cluster ------------------------------------------------------------------------
@dataclasses.dataclass
class SecureCluster:
    cluster: TrinoCluster
    node_settings: NodeSettings
    secrets: render.Secrets
    layout: render.Layout  # the coordinator's ports, as bootstrap would see them
    https_url: str
    ca_file: Path
    elasticsearch: SecureElasticsearch
    index_prefix: str

    def client(self, user: str, password: str | None) -> TrinoAdmin:
        """A user's client: HTTPS to the coordinator, the CA as its only trust, host name checked."""
        return TrinoAdmin(
            self.https_url, user=user, password=password, ca_bundle=str(self.ca_file), timeout=60
        )

    def agent(self) -> TrinoAdmin:
        """The coordinator's agent, built exactly as the node's services build it."""
        return node_config.local_admin(
            self.node_settings, Role.COORDINATOR, self.layout, self.secrets, timeout=30
        )


def coordinator_layout(cluster: TrinoCluster) -> render.Layout:
    config = dict(
        line.split("=", 1)
        for line in (cluster.coordinator.etc_dir / "config.properties").read_text().splitlines()
        if "=" in line
    )
    return render.Layout(
        etc_dir=cluster.coordinator.etc_dir,
        data_dir=cluster.coordinator.data_dir,
        http_port=int(config["http-server.http.port"]),
        https_port=int(config["http-server.https.port"]),
    )


class QuerylogOnNode:
    """`node-agent querylog` as on a node: no flags but its port and spool; the Elasticsearch URL,
    user, CA bundle and password secret come from the node env file, SSM and Secrets Manager
    (moto, reached through AWS_ENDPOINT_URL the way boto3 allows)."""

    def __init__(self, env_file: Path, port: int, spool_dir: Path, log_path: Path, endpoint_url: str) -> None:
        log = log_path.open("ab")
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        self.log_path = log_path
        self.port = port
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "node_agent.querylog.command",
                f"--env-file={env_file}",
                f"--port={port}",
                f"--spool-dir={spool_dir}",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError(f"querylog agent exited: {log_path.read_text()[-2000:]}") from None
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"querylog agent not listening after 60s: {log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope="module")
def secure(
    trino_factory: TrinoFactory, moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecureCluster]:
    work = tmp_path_factory.mktemp("secure")
    pki = issue_test_pki("127.0.0.1")
    ca_file = work / "ca.pem"
    ca_file.write_text(pki.ca_pem)
    prefix = f"secure-{uuid.uuid4().hex[:8]}"
    secrets = render.Secrets(
        shared_secret=SHARED_SECRET,
        management_password=AGENT_PASSWORD,
        keystore_pem=pki.keystore_pem,
        password_file=f"alice:{trino_bcrypt(ALICE_PASSWORD)}\n",
    )
    elasticsearch = SecureElasticsearch(work / "elasticsearch", pki, prefix)
    stack: list[Callable[[], object]] = [elasticsearch.close]
    # Elasticsearch and Trino boot side by side (each JVM leaves a core partly idle while it
    # starts); the query-log agent starts once Elasticsearch answers, before any query runs.
    booting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="secure-es")
    try:
        elasticsearch_started = booting.submit(elasticsearch.start)
        secretsmanager = moto_server.boto3_client("secretsmanager")
        es_password_arn = secretsmanager.create_secret(
            Name=f"{prefix}-es-password", SecretString=QUERYLOG_ES_PASSWORD
        )["ARN"]
        settings = default_settings(
            tls=TlsSettings(
                enabled=True,
                authentication="password",
                keystore_secret_arn=ARN + "keystore",
                password_file_secret_arn=ARN + "users",
                management_password_secret_arn=ARN + "agent",
            ),
            elasticsearch=ElasticsearchSettings(
                url=elasticsearch.url,
                index_prefix=prefix,
                username=QUERYLOG_ES_USER,
                password_secret_arn=es_password_arn,
                ca_bundle=pki.ca_pem,
            ),
        )
        parameter = f"/{prefix}/node-settings"
        moto_server.boto3_client("ssm").put_parameter(Name=parameter, Value=settings.to_json(), Type="String")
        env_file = work / "node.env"
        env_file.write_text(
            f"{NODE_ENV_SETTINGS_PARAMETER}={parameter}\n{NODE_ENV_ROLE}=coordinator\n"
            f"{NODE_ENV_REGION}={REGION}\n"
        )
        querylog_port = free_port()
        # The harness's own ready gate speaks plain HTTP, which this coordinator refuses for
        # identities by design; the agent's gate (HTTPS, its password) decides readiness instead.
        cluster = trino_factory.start_cluster(
            workers=1, settings=settings, secrets=secrets, querylog_port=querylog_port, wait=False
        )
        stack.append(cluster.stop)
        elasticsearch_started.result()
        querylog = QuerylogOnNode(
            env_file, querylog_port, work / "spool", work / "querylog.log", moto_server.endpoint_url
        )
        stack.append(querylog.stop)
        layout = coordinator_layout(cluster)
        secure = SecureCluster(
            cluster=cluster,
            node_settings=settings,
            secrets=secrets,
            layout=layout,
            https_url=f"https://127.0.0.1:{layout.https_port}",
            ca_file=ca_file,
            elasticsearch=elasticsearch,
            index_prefix=prefix,
        )
        bootstrap.wait_ready(
            secure.agent(), settings, Role.COORDINATOR, node_id=cluster.coordinator.node_id, timeout=240
        )
        yield secure
    finally:
        booting.shutdown(wait=True)  # after a failed boot: Elasticsearch is up or failed before it stops
        for stop in reversed(stack):
            stop()


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- every node carries the shared secret ---------------------------------------------------------
def test_every_node_is_rendered_with_the_same_shared_secret(secure: SecureCluster) -> None:
    for node in secure.cluster.nodes:
        config = (node.etc_dir / "config.properties").read_text()
        assert f"internal-communication.shared-secret={SHARED_SECRET}\n" in config, node.name


def test_the_worker_joined_the_secured_coordinator(secure: SecureCluster) -> None:
    # The fixture's ready gate counted the worker in the coordinator's stats; a CI run then found
    # system.runtime.nodes empty for a moment (Trino leaves a node its heartbeat detector has
    # flagged out of the list altogether, and two cores booting Elasticsearch beside it can delay
    # a heartbeat). What users rely on is that the worker is listed as active: wait for it.
    expected = [[secure.cluster.workers[0].node_id, "active"]]
    workers = "SELECT node_id, state FROM system.runtime.nodes WHERE coordinator = false"
    deadline = time.monotonic() + 90
    rows = secure.agent().query(workers).rows
    while rows != expected and time.monotonic() < deadline:
        time.sleep(1)
        rows = secure.agent().query(workers).rows
    assert rows == expected


# --- clients ------------------------------------------------------------------------------------
def test_a_user_with_the_right_password_queries_over_verified_https(secure: SecureCluster) -> None:
    alice = secure.client("alice", ALICE_PASSWORD)
    assert alice.query("SELECT count(*) FROM tpch.tiny.nation").rows == [[25]]


def test_a_wrong_password_is_refused_with_401(secure: SecureCluster) -> None:
    with pytest.raises(TrinoError) as refused:
        secure.client("alice", "not-her-password").query("SELECT 1")
    assert refused.value.status == 401


def test_an_unknown_user_is_refused_with_401(secure: SecureCluster) -> None:
    with pytest.raises(TrinoError) as refused:
        secure.client("mallory", ALICE_PASSWORD).query("SELECT 1")
    assert refused.value.status == 401


def test_an_ordinary_user_cannot_shut_the_worker_down(secure: SecureCluster) -> None:
    worker = secure.cluster.workers[0]
    with pytest.raises(TrinoError) as refused:
        TrinoAdmin(worker.url, user="alice", timeout=30).shutdown()
    assert refused.value.status == 403
    assert worker.admin().state() == "ACTIVE"


# --- the metrics agent ----------------------------------------------------------------------------
def test_metrics_agent_scrapes_the_secured_coordinator(secure: SecureCluster) -> None:
    agent = MetricsAgent(
        MetricsConfig(cluster="secure", role=Role.COORDINATOR, node="coordinator", host="127.0.0.1", port=0),
        secure.agent(),
    )
    agent.start()
    try:
        snapshot = agent.scrape_once()
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/metrics", timeout=10) as response:
            page = response.read().decode()
    finally:
        agent.stop()
    assert snapshot.up and snapshot.cluster is not None and snapshot.node is not None
    values = {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith("trino_") and "{" in line
    }
    assert values["trino_up"] == 1.0
    assert values["trino_active_workers"] == 1.0
    assert values["trino_heap_max_bytes"] > 0
    assert values["trino_cluster_memory_bytes"] > 0  # from /metrics, which needs the password
    assert values["trino_queries_completed_total"] >= 1  # the ready gate's queries at least
    errors = [line for line in page.splitlines() if line.startswith("trino_agent_scrape_errors_total")]
    assert all(line.endswith(" 0.0") for line in errors), errors


# --- the query log --------------------------------------------------------------------------------
def test_query_log_indexes_events_from_the_secured_cluster_over_https(secure: SecureCluster) -> None:
    alice = secure.client("alice", ALICE_PASSWORD)
    query_id = alice.query("SELECT count(*) FROM tpch.tiny.region").query_id
    es = secure.elasticsearch.client()

    def indexed() -> dict[str, Any] | None:
        es.indices.refresh(index=f"{secure.index_prefix}-*", allow_no_indices=True)
        hits = es.search(index=f"{secure.index_prefix}-*", query={"ids": {"values": [query_id]}})["hits"][
            "hits"
        ]
        return hits[0]["_source"] if hits else None

    document = wait_for(indexed, 90, f"query {query_id} in Elasticsearch")
    assert isinstance(document, dict)
    assert document["user"] == "alice"
    assert document["state"] == "FINISHED"


def test_the_query_log_link_refuses_an_elasticsearch_its_ca_did_not_sign(secure: SecureCluster) -> None:
    from elastic_transport import TlsError

    es = dataclasses.replace(
        secure.node_settings.elasticsearch, ca_bundle=issue_test_pki().ca_pem
    )  # another CA: as if someone else answered at Elasticsearch's address
    with pytest.raises(TlsError):
        make_client(es, QUERYLOG_ES_PASSWORD).info()


def test_the_query_log_user_may_write_its_indices_but_not_read_them(secure: SecureCluster) -> None:
    from elasticsearch import AuthorizationException

    client = make_client(secure.node_settings.elasticsearch, QUERYLOG_ES_PASSWORD)
    with pytest.raises(AuthorizationException):
        client.search(index=f"{secure.index_prefix}-*")


def test_the_query_log_link_with_a_wrong_password_is_refused(secure: SecureCluster) -> None:
    from elasticsearch import AuthenticationException

    with pytest.raises(AuthenticationException):
        make_client(secure.node_settings.elasticsearch, "not-the-password").info()


# --- the failover function's probe ----------------------------------------------------------------
@pytest.fixture
def failover_handler() -> Any:
    """The handler module as Lambda reaches it (tools/harness/failover_function.py, shared with the pair)."""
    return load_failover_handler()


@pytest.fixture
def failover_aws(moto_server: MotoServer, secure: SecureCluster) -> dict[str, Any]:
    """In moto: the coordinator ENI at the certificate's address, and the management password."""
    moto_server.reset()
    ec2 = moto_server.boto3_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.0.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="127.0.0.1")["NetworkInterface"]
    secretsmanager = moto_server.boto3_client("secretsmanager")
    password_arn = secretsmanager.create_secret(Name="secure-agent-password", SecretString=AGENT_PASSWORD)[
        "ARN"
    ]
    return {
        "ec2": ec2,
        "secretsmanager": secretsmanager,
        "eni_id": eni["NetworkInterfaceId"],
        "password_arn": password_arn,
    }


def test_failover_probe_sees_the_secured_coordinator_healthy(
    secure: SecureCluster, failover_handler: Any, failover_aws: dict[str, Any]
) -> None:
    """The probe runs with the environment the prod stack gives the function, against a coordinator
    reached at its own address (127.0.0.2) while its certificate names the ENI's (127.0.0.1)."""
    from components.lambdas.environment import failover_environment
    from components.settings.stack_file import load_stack_settings
    from functions.shared.lambda_support import env_reader

    settings = load_stack_settings("prod", {"tlsCaBundle": secure.ca_file.read_text()})
    environ = {
        str(k): str(v)
        for k, v in failover_environment(
            settings,
            failover_aws["eni_id"],
            failover_aws["password_arn"],
            # Read only by a switchover (tests/integration/test_rollout.py); none runs here.
            failover_aws["password_arn"].replace(":secret:", ":secret:shared-"),
        ).items()
    }
    # Test-sized: a CI machine shared by JVMs can take longer than the production 3 s to plan.
    environ[FunctionEnv.PROBE_TIMEOUT_SECONDS.value] = "30"
    handler = failover_handler
    config = handler.FailoverConfig.from_env(env_reader(environ))
    local_port = {"https": secure.layout.https_port, "http": secure.layout.http_port}[config.trino.scheme]
    clients = handler.probe_clients(
        config,
        ec2=failover_aws["ec2"],
        secretsmanager=failover_aws["secretsmanager"],
        resolve_url=lambda address: f"{config.trino.scheme}://{address}:{local_port}",
    )
    probe = handler.probe_coordinator(clients.admin("127.0.0.2"))
    assert probe.healthy, probe.reason
    assert config.trino.scheme == "https"


def test_over_plain_http_the_probe_cannot_see_a_secured_coordinator_healthy(
    secure: SecureCluster, failover_handler: Any
) -> None:
    """Why the failover function probes over HTTPS once passwords are on."""
    probe = failover_handler.probe_coordinator(TrinoAdmin(secure.cluster.coordinator.url, timeout=30))
    assert not probe.healthy
    assert probe.reason.startswith("refuses the management user")


def test_without_the_enis_name_a_coordinator_reached_at_its_own_address_fails_the_check(
    secure: SecureCluster,
) -> None:
    """Why the probe checks the certificate for the ENI's address: it names no other address."""
    admin = TrinoAdmin(
        f"https://127.0.0.2:{secure.layout.https_port}", ca_bundle=str(secure.ca_file), timeout=30
    )
    with pytest.raises(TrinoUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        admin.info()
    named = TrinoAdmin(
        f"https://127.0.0.2:{secure.layout.https_port}",
        ca_bundle=str(secure.ca_file),
        tls_server_name="127.0.0.1",
        timeout=30,
    )
    assert named.info()["coordinator"] is True


def test_worker_health_check_reads_the_secured_coordinators_workers(
    secure: SecureCluster, failover_aws: dict[str, Any]
) -> None:
    """The worker-health function, with the prod stack's environment, queries the coordinator at
    the ENI's address over HTTPS as the management user and sees the worker active."""
    from components.lambdas.environment import worker_health_environment
    from components.settings.stack_file import load_stack_settings
    from functions.shared.lambda_support import TrinoClients, env_reader
    from functions.worker_health.run import WorkerHealthConfig, coordinator_view

    settings = load_stack_settings("prod", {"tlsCaBundle": secure.ca_file.read_text()})
    environ = {
        str(k): str(v)
        for k, v in worker_health_environment(
            settings, failover_aws["eni_id"], failover_aws["password_arn"]
        ).items()
    }
    environ[FunctionEnv.PROBE_TIMEOUT_SECONDS.value] = "30"  # test-sized, as above
    config = WorkerHealthConfig.from_env(env_reader(environ))
    assert config.trino.scheme == "https"
    clients = TrinoClients(
        config.trino,
        secrets_client=failover_aws["secretsmanager"],
        resolve_url=lambda address: f"https://{address}:{secure.layout.https_port}",
    )
    view = coordinator_view(clients.admin("127.0.0.1"))
    assert view.states == {secure.cluster.workers[0].node_id: "active"}


# --- the drain (last: it stops the only worker) -------------------------------------------------
def test_drain_of_a_worker_in_the_secured_cluster_completes(
    secure: SecureCluster, moto_server: MotoServer, aws_cluster: ClusterResources, tmp_path: Path
) -> None:
    worker = secure.cluster.workers[0]
    instance_id = aws_cluster.worker_instance_ids[0]
    imds = FakeImds(instance_metadata(instance_id, private_ip="127.0.0.1"))
    lifecycle_api = StandInLifecycleApi(observe=lambda: not worker.running())
    settings = dataclasses.replace(
        secure.node_settings,
        cluster=aws_cluster.cluster,
        heartbeat_timeout_seconds=6,
        lifecycle_hook_name=aws_cluster.lifecycle_hook_name,
    )
    log = io.StringIO()
    # The worker's agent reaches its Trino the way bootstrap tells it to on a secured cluster.
    local = node_config.local_admin(
        settings, Role.WORKER, render.Layout(http_port=worker.http_port), secure.secrets, timeout=10
    )
    agent = LifecycleAgent(
        config=build_config(settings, instance_id),
        imds=Imds(imds.url),
        autoscaling=lifecycle_api.attach(moto_server.boto3_client("autoscaling", aws_cluster.region)),
        cloudwatch=moto_server.boto3_client("cloudwatch", aws_cluster.region),
        trino=local,
        trino_running=TrinoProcess(worker.data_dir).running,
        store=StateStore(tmp_path / "lifecycle.json"),
        out=log,
    )
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    runner.start()
    try:
        imds.set("autoscaling/target-lifecycle-state", "Terminated")
        code = worker.wait_exit(180)
        wait_for(lifecycle_api.completions, 60, "CompleteLifecycleAction")
    finally:
        stop.set()
        runner.join(10)
        imds.stop()
    assert code == 0
    [completion] = lifecycle_api.completions()
    assert completion.params["LifecycleActionResult"] == "CONTINUE"
    decisions = [json.loads(line) for line in log.getvalue().splitlines()]
    assert decisions[-1]["decision"] == "complete", decisions
    names = [d["decision"] for d in decisions]
    assert "shutdown-requested" in names and "shutdown-failed" not in names, names  # accepted at once


# --- the rehearsal command -------------------------------------------------------------------------
@dataclasses.dataclass
class TlsRehearsal:
    process: subprocess.Popen[bytes]
    dir: Path
    out: Path
    err: Path


@pytest.fixture(scope="module", autouse=True)
def tls_rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRehearsal]:
    """`make rehearse` of a stack with TLS and passwords, started with the module (autouse) so its
    Trino boots alongside the secured cluster's JVMs; its test, the last, reads how it ended."""
    work = tmp_path_factory.mktemp("tls-rehearsal")
    out, err = work / "stdout", work / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.rehearse",
                "--stack",
                "dev",
                "--workers",
                "0",
                "--dir",
                str(work / "rehearsal"),
                "--smoke-and-exit",
                "--set",
                "tls=true",
                "--set",
                "authentication=password",
                "--set",
                f"tlsCertificateSecretArn={DEV_ARN}tls-AbCdEf",
                "--set",
                f"passwordFileSecretArn={DEV_ARN}users-AbCdEf",
            ],
            cwd=REPO,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        yield TlsRehearsal(process, work / "rehearsal", out, err)
    finally:  # SIGTERM: the rehearsal stops its nodes (only if its test did not wait for it)
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_rehearsal_of_a_tls_stack_serves_https_with_passwords(tls_rehearsal: TlsRehearsal) -> None:
    """`make rehearse` of a stack with TLS and passwords keeps both on: the smoke query runs as a
    generated user over HTTPS, trusting only the rehearsal's certificate."""
    returncode = tls_rehearsal.process.wait(600)
    stdout, stderr = tls_rehearsal.out.read_text(), tls_rehearsal.err.read_text()
    assert returncode == 0, stdout + stderr
    assert "returned 25" in stdout
    assert "Web UI:     https://127.0.0.1:" in stdout
    assert "user rehearsal, password " in stdout
    config = (tls_rehearsal.dir / "c1-coordinator" / "etc" / "config.properties").read_text()
    assert "http-server.authentication.type=PASSWORD\n" in config
