"""Every secret an agent unit reads on a node is one its node's IAM role may read.

The units come from image/files/systemd (what the AMI ships, with the role each one runs on,
decided by its own ExecCondition run through /usr/bin/test), the roles from the IAM policies the
prod stack declares, and the secrets from the agent's own start-up code run against the node
settings that stack writes, with Secrets Manager recorded instead of called. A unit that starts on
a role that may not read its secret exits 2 and restarts every 5 s for ever (the query log on prod
workers did exactly that).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from components.base import REPO_ROOT
from node_agent import aws, node_config
from node_agent.contract import (
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    NodeSettings,
    Role,
)
from node_agent.metrics import command as metrics
from node_agent.querylog import command as querylog
from tools.harness.certs import issue_certificate
from tools.plan.mocks import Plan, reveal

PlanFor = Callable[[str], Plan]
UNIT_DIR = REPO_ROOT / "image" / "files" / "systemd"
AGENT = "/opt/presto-on-aws/venv/bin/node-agent"
EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost")
CERTIFICATE = issue_certificate("coordinator", ip_addresses=["10.0.1.10"])


def unit_lines(name: str) -> list[tuple[str, str]]:
    text = (UNIT_DIR / name).read_text()
    pairs = [line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")]
    return [(key.strip(), value.strip()) for key, value in pairs]


def runs_on(name: str, role: Role) -> bool:
    """Whether the unit's ExecConditions pass on a node of `role` (systemd substitutes ${VAR})."""
    for key, value in unit_lines(name):
        if key == "ExecCondition":
            argv = shlex.split(value.lstrip("-+!@:").replace("${" + NODE_ENV_ROLE + "}", role.value))
            if argv[0] == AGENT:
                continue  # trino.service's `lifecycle --may-start`: any role, not draining or warmed
            if subprocess.run(argv, check=False).returncode != 0:
                return False
    return True


def agent_commands(name: str) -> list[list[str]]:
    """The node-agent command lines a unit starts (prefixes such as -+ dropped)."""
    commands = []
    for key, value in unit_lines(name):
        argv = shlex.split(value.lstrip("-+!@:")) if key in EXEC_KEYS and value else []
        if argv and argv[0] == AGENT:
            commands.append(argv[1:])
    return commands


def written_settings(plan: Plan) -> NodeSettings:
    parameter = plan.of_type("aws:ssm/parameter:Parameter")[0]
    return NodeSettings.from_json(reveal(parameter.inputs["value"]))


def readable_secrets(plan: Plan, role: Role) -> set[str]:
    policy = plan.named(f"{plan.settings.name}-identity-{role.value}", "aws:iam/rolePolicy:RolePolicy")
    statements = json.loads(reveal(policy.inputs["policy"]))["Statement"]
    return {
        arn
        for s in statements
        if "secretsmanager:GetSecretValue" in s["Action"]
        for arn in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }


def secrets_read(
    command: list[str], role: Role, plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> set[str]:
    """Run the start-up code of `node-agent <command>` on a node of `role`, recording secret reads."""
    settings = written_settings(plan)
    env_file = tmp_path / "node.env"
    env_file.write_text(
        f"{NODE_ENV_SETTINGS_PARAMETER}=/settings\n{NODE_ENV_ROLE}={role.value}\n{NODE_ENV_REGION}={settings.region}\n"
    )
    read: set[str] = set()

    def get_secret(arn: str, region: str, **_: object) -> str:
        read.add(arn)
        if arn == settings.tls.keystore_secret_arn:
            return CERTIFICATE.certificate_pem + CERTIFICATE.key_pem
        return "secret-value"

    monkeypatch.setattr(aws, "get_parameter", lambda name, region, **_: settings.to_json())
    monkeypatch.setattr(aws, "get_secret", get_secret)
    env = node_config.read_env_file(env_file)
    match command:
        case ["bootstrap", "--check", *_]:
            pass  # looks at etc/ only
        case ["heapdumps", *_]:
            pass  # looks at the data dir only
        case ["bootstrap", *_]:
            node_config.load_secrets(node_config.load_settings(env), env.role)
        case ["metrics", *_]:
            args = argparse.Namespace(env_file=env_file, role=None, cluster=None, trino_url=None)
            metrics.resolve_node(args, metrics.read_node(args))
        case ["querylog", *_]:
            querylog.resolve_elasticsearch(env_file)
        case ["lifecycle", *_]:
            node_config.load_settings(env)  # the settings only: it drains as the management user over HTTP
        case _:
            pytest.fail(f"node-agent {command}: say here which start-up code it runs")
    return read


UNITS = sorted(p.name for p in UNIT_DIR.glob("*.service"))


def test_the_query_log_runs_where_completed_queries_are_produced() -> None:
    # Only coordinators render the HTTP event listener (render.py), so only they need the agent.
    assert runs_on("node-agent-querylog.service", Role.COORDINATOR)
    assert not runs_on("node-agent-querylog.service", Role.WORKER)


@pytest.mark.parametrize("config", ["prod", "dev"])
@pytest.mark.parametrize("role", list(Role))
def test_every_secret_a_unit_reads_is_readable_by_its_role(
    plan_for: PlanFor, config: str, role: Role, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_for(config)
    readable = readable_secrets(plan, role)
    unreadable = {
        f"{unit} ({' '.join(command)})": sorted(missing)
        for unit in UNITS
        if runs_on(unit, role)
        for command in agent_commands(unit)
        if (missing := secrets_read(command, role, plan, tmp_path, monkeypatch) - readable)
    }
    assert unreadable == {}


def test_every_agent_unit_is_covered() -> None:
    commands = {c[0] for unit in UNITS for c in agent_commands(unit)}
    assert commands == {"bootstrap", "heapdumps", "metrics", "querylog", "lifecycle"}
