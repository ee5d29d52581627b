"""The prod stack's security posture, followed from the declared graph to what a node runs.

The other unit tests check each resource on its own (ingress ports, IAM statements, user data,
the settings parameter). These follow the chain across layers: what the prod stack writes for its
nodes, rendered by the renderer the nodes use, must serve clients over HTTPS with passwords only,
and a secret value the program creates must exist in exactly one place, its Secrets Manager
version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from node_agent import render
from node_agent.contract import MANAGEMENT_USER, TRINO_HTTPS_PORT, NodeSettings, Role
from plan import Plan, reveal

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
