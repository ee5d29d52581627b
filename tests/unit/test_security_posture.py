"""The prod stack's security posture, followed from the declared graph to what a node runs.

The other unit tests check each resource on its own (ingress ports, IAM statements, user data,
the settings parameter). These follow the chain across layers: what the prod stack writes for its
nodes, rendered by the renderer the nodes use, must serve clients over HTTPS with passwords only,
and a secret value the program creates must exist in exactly one place, its Secrets Manager
version. The functions reach each coordinator at its own address but check its certificate for
the coordinator ENI's address, which is the one the certificate names.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.lambdas.environment import failover_environment
from components.settings.stack_file import load_stack_settings
from functions.shared.lambda_support import env_reader
from node_agent import render
from node_agent.contract import MANAGEMENT_USER, TRINO_HTTPS_PORT, NodeSettings, Role
from node_agent.trino.admin import TrinoAdmin, TrinoUnavailable
from tools.harness.certs import issue_certificate
from tools.harness.failover_function import load_failover_handler
from tools.plan.mocks import Plan, reveal

PlanFor = Callable[[str], Plan]
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
FACTS = render.NodeFacts(
    instance_id="i-0123456789abcdef0",
    instance_type="r6i.4xlarge",
    private_ip="10.40.1.23",
    availability_zone="eu-west-1a",
    memory_bytes=128 << 30,
)
# Stand-ins for what bootstrap reads from Secrets Manager on a node.
SECRETS = render.Secrets(
    shared_secret="shared-secret-from-secrets-manager",
    management_password="agent-password-from-secrets-manager",
    keystore_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    password_file="alice:$2y$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01\n",
)


def written_settings(plan: Plan) -> NodeSettings:
    parameter = plan.of_type("aws:ssm/parameter:Parameter")[0]
    return NodeSettings.from_json(reveal(parameter.inputs["value"]))


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def rendered(plan: Plan, role: Role) -> dict[str, str]:
    return render.render(written_settings(plan), FACTS, role, render.Layout(), SECRETS)


def test_prod_coordinator_serves_clients_over_https_with_passwords(plan_for: PlanFor) -> None:
    config = properties(rendered(plan_for("prod"), Role.COORDINATOR)["config.properties"])
    assert config["http-server.https.enabled"] == "true"
    assert config["http-server.https.port"] == str(TRINO_HTTPS_PORT)
    assert config["http-server.authentication.type"] == "PASSWORD"


def test_prod_coordinator_takes_no_identity_over_its_internal_http_port(plan_for: PlanFor) -> None:
    config = properties(rendered(plan_for("prod"), Role.COORDINATOR)["config.properties"])
    assert config["http-server.authentication.allow-insecure-over-http"] == "false"


def test_prod_coordinator_reads_users_from_the_file_authenticator(plan_for: PlanFor) -> None:
    files = rendered(plan_for("prod"), Role.COORDINATOR)
    authenticator = properties(files["password-authenticator.properties"])
    assert authenticator["password-authenticator.name"] == "file"
    users = [line.split(":", 1)[0] for line in files["secrets/password.db"].splitlines()]
    assert users == ["alice", MANAGEMENT_USER]


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.WORKER])
def test_every_prod_node_authenticates_internal_traffic_with_the_shared_secret(
    plan_for: PlanFor, role: Role
) -> None:
    config = properties(rendered(plan_for("prod"), role)["config.properties"])
    assert config["internal-communication.shared-secret"] == SECRETS.shared_secret


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.WORKER])
def test_on_every_prod_node_only_the_management_user_may_drain(plan_for: PlanFor, role: Role) -> None:
    rules = json.loads(rendered(plan_for("prod"), role)["rules.json"])["system_information"]
    writers = [rule.get("user") for rule in rules if "write" in rule["allow"]]
    assert writers == [MANAGEMENT_USER]


def test_prod_query_log_reaches_elasticsearch_over_https_with_a_secret_password(plan_for: PlanFor) -> None:
    es = written_settings(plan_for("prod")).elasticsearch
    assert es is not None
    assert es.url.startswith("https://")
    assert es.username and es.password_secret_arn and es.password_secret_arn.startswith("arn:aws")


def _mentions(value: Any, text: str) -> bool:
    return text in json.dumps(reveal(value), default=lambda v: str(reveal(v)))


@pytest.mark.parametrize("config", ["dev", "prod"])
def test_a_generated_secret_value_appears_only_in_its_secret_version(plan_for: PlanFor, config: str) -> None:
    plan = plan_for(config)
    values = [str(reveal(v.inputs["secretString"])) for v in plan.of_type(SECRET_VERSION)]
    assert values and all(len(v) >= 16 for v in values), "too short to search for"
    for resource in plan.resources:
        if resource.type == SECRET_VERSION:
            continue
        for value in values:
            assert not _mentions(dict(resource.inputs), value), f"{resource.type} {resource.name}"
    for value in values:
        assert not _mentions(plan.outputs, value), "a stack output"


# --- the functions check the coordinator certificate for the ENI's address ---------------------
@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only 10.0.0.10 (the ENI's address)."""
    certificate, key = issue_certificate(
        "coordinator.test", dns_names=["coordinator.test"], ip_addresses=["10.0.0.10"]
    )
    (tmp_path / "cert.pem").write_text(certificate + key)
    (tmp_path / "ca.pem").write_text(certificate)

    class Info(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"coordinator": true, "starting": false}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Info)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], tmp_path / "ca.pem"
    finally:
        server.shutdown()
        server.server_close()


def test_a_coordinator_reached_at_its_own_address_is_verified_for_the_enis(
    tls_server: tuple[int, Path],
) -> None:
    port, ca = tls_server
    admin = TrinoAdmin(f"https://127.0.0.1:{port}", ca_bundle=str(ca), tls_server_name="10.0.0.10")
    assert admin.info()["coordinator"] is True


def test_the_host_name_check_stays_on_for_the_named_address(tls_server: tuple[int, Path]) -> None:
    port, ca = tls_server
    with pytest.raises(TrinoUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        TrinoAdmin(f"https://127.0.0.1:{port}", ca_bundle=str(ca), tls_server_name="10.0.0.99").info()
    with pytest.raises(TrinoUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        TrinoAdmin(f"https://127.0.0.1:{port}", ca_bundle=str(ca)).info()


def _failover_handler() -> Any:
    """The failover handler as Lambda loads it (tools.harness.failover_function)."""
    return load_failover_handler()


@pytest.mark.parametrize(("stack", "server_name"), [("prod", "10.0.0.10"), ("dev", None)])
def test_failover_probes_check_the_certificate_for_the_enis_address_when_on_https(
    monkeypatch: pytest.MonkeyPatch, stack: str, server_name: str | None
) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    handler = _failover_handler()
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        eni = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.0.10")["NetworkInterface"]
        arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:agent"
        environ = {
            str(k): str(v)
            for k, v in failover_environment(
                load_stack_settings(stack),
                eni["NetworkInterfaceId"],
                arn if stack == "prod" else None,
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shared",
            ).items()
        }
        config = handler.FailoverConfig.from_env(env_reader(environ))
        clients = handler.probe_clients(config, ec2=ec2, secretsmanager=boto3.client("secretsmanager"))
    assert clients.tls_server_name == server_name
