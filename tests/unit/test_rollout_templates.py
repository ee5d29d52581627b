"""A change reaches the nodes: the launch template of a role changes exactly when a node of that
role would boot differently, and a second run with nothing changed declares the same template.

Under mocks no template version number is computed, so what is compared is what AWS would version:
the template's launch data (image, type, user data, ...). Identical data means Pulumi sees no diff,
no new version and no instance refresh; different data means a new version and a refresh.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from components.nodes.boot_digest import boot_digest
from tools.plan.mocks import Plan, reveal, run_program

TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
# What is not part of a launch template version: the resource's own tags and description.
NOT_VERSIONED = ("tags", "description")
TLS_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trino-prod/tls-Ef34Gh"


def launch_data(plan: Plan, role: str) -> dict[str, Any]:
    template = plan.named(f"{plan.settings.name}-{role}s-template", TEMPLATE)
    return {k: reveal(v) for k, v in template.inputs.items() if k not in NOT_VERSIONED}


def user_data(plan: Plan, role: str) -> str:
    return base64.b64decode(launch_data(plan, role)["userData"]).decode()


def changed_roles(before: Plan, after: Plan) -> set[str]:
    return {
        role for role in ("coordinator", "worker") if launch_data(before, role) != launch_data(after, role)
    }


_runs: dict[str, Plan] = {}


def prod(overrides: Mapping[str, object] | None = None, label: str = "") -> Plan:
    """One fresh run of the program per label (each run generates new random secret values)."""
    if label not in _runs:
        _runs[label] = run_program("prod", dict(overrides or {}))
    return _runs[label]


def test_second_run_with_nothing_changed_declares_identical_templates() -> None:
    first, second = prod(label="base"), run_program("prod", {})
    assert changed_roles(first, second) == set()


def test_a_new_catalog_changes_both_templates() -> None:
    after = prod(
        {"catalogs": {"tpch": {"connector.name": "tpch"}, "mem": {"connector.name": "memory"}}}, "cat"
    )
    assert changed_roles(prod(label="base"), after) == {"coordinator", "worker"}


def test_a_config_override_changes_both_templates() -> None:
    overrides = {"query.max-memory": "300GB", "query.max-execution-time": "6h"}
    after = prod({"configOverrides": overrides}, "override")
    assert changed_roles(prod(label="base"), after) == {"coordinator", "worker"}


def test_a_new_trino_version_changes_both_templates() -> None:
    after = prod({"trinoVersion": 475}, "version")
    assert changed_roles(prod(label="base"), after) == {"coordinator", "worker"}


def test_a_pinned_ami_changes_the_image_of_both_templates() -> None:
    after = prod({"amiId": "ami-0fedcba9876543210"}, "ami")
    assert launch_data(after, "worker")["imageId"] != launch_data(prod(label="base"), "worker")["imageId"]
    assert changed_roles(prod(label="base"), after) == {"coordinator", "worker"}


def test_a_coordinator_instance_type_changes_only_the_coordinator_template() -> None:
    after = prod({"coordinatorInstanceType": "r6i.4xlarge"}, "coordinator-type")
    assert changed_roles(prod(label="base"), after) == {"coordinator"}


def test_a_worker_instance_type_changes_only_the_worker_template() -> None:
    after = prod({"workerInstanceTypes": ["r7i.4xlarge", "r6i.4xlarge"]}, "worker-type")
    assert changed_roles(prod(label="base"), after) == {"worker"}


def test_a_size_change_rolls_nothing() -> None:
    after = prod({"workerMaxSize": 60, "scalingStepWorkers": 6}, "sizes")
    assert changed_roles(prod(label="base"), after) == set()


def test_user_data_carries_the_boot_digest_of_settings_and_secret_versions() -> None:
    plan = prod(label="base")
    settings_json = reveal(plan.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"])
    digest = user_data(plan, "worker").splitlines()[1].removeprefix("# boot-digest: ")
    generated = {
        label: f"trino-prod-secrets-{label}-version-1" for label in ("shared-secret", "management-password")
    }
    assert digest == boot_digest(settings_json, generated)


def test_coordinator_digest_covers_the_configured_secrets_current_versions() -> None:
    plan = prod(label="base")
    asked = {str(c.args.get("secretId")) for c in plan.calls if c.token.endswith("getSecretVersions")}
    assert TLS_SECRET in asked
    assert plan.settings.security.password_file_secret_arn in asked
    assert user_data(plan, "coordinator").splitlines()[1] != user_data(plan, "worker").splitlines()[1]


@pytest.mark.parametrize(
    "change",
    [
        {"settings": '{"a":2}'},
        {"versions": {"tls": "v2"}},
        {"versions": {"tls": "v1", "users": "v1"}},
    ],
)
def test_boot_digest_changes_with_settings_or_any_secret_version(change: dict[str, Any]) -> None:
    base = boot_digest('{"a":1}', {"tls": "v1"})
    assert boot_digest(change.get("settings", '{"a":1}'), change.get("versions", {"tls": "v1"})) != base


def test_boot_digest_ignores_the_order_of_secrets() -> None:
    assert boot_digest("{}", {"a": "1", "b": "2"}) == boot_digest("{}", {"b": "2", "a": "1"})


def test_the_node_never_reads_the_digest_line() -> None:
    """A comment, so the env file and the bootstrap are exactly what they were."""
    lines = user_data(prod(label="base"), "worker").splitlines()
    assert lines[0] == "#!/bin/bash"
    assert lines[1].startswith("# boot-digest: sha256:")
    assert all("boot-digest" not in line for line in lines[2:])
