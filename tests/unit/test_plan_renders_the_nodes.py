"""`make plan` refuses a stack whose nodes would refuse to boot: the parse ends by rendering both
roles with the node agent's own renderer, from the node settings JSON the nodes will read."""

from __future__ import annotations

import json

import pytest

from components.settings import render_check as settings_render
from components.settings.parse import parse
from components.settings.stack_file import load_stack_settings
from components.settings.trino import MANAGED_PROPERTIES
from node_agent import render
from node_agent.contract import NodeSettings, Role
from tests.unit.stack_config import VALID, problems
from tools.plan import command as plan

TLS = {
    "presto-on-aws:tls": "true",
    "presto-on-aws:tlsCertificateSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:c-Ab12Cd",
    "presto-on-aws:passwordFileSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:p-Ab12Cd",
}


@pytest.mark.parametrize("version", ["330", "336"])
def test_tls_below_337_is_refused_at_plan_time(version: str) -> None:
    found = problems({**TLS, "trinoVersion": version})
    assert len(found) == 1, found
    assert found[0].startswith("presto-on-aws:tls: true needs trinoVersion 337 or newer")


def test_tls_at_337_renders() -> None:
    assert parse("test", {**VALID, **TLS, "presto-on-aws:trinoVersion": "337"}).security.tls


def test_security_config_file_override_is_refused() -> None:
    found = problems({"configOverrides": json.dumps({"security.config-file": "/tmp/rules.json"})})
    assert found == [
        "presto-on-aws:configOverrides: 'security.config-file' is set by the program from the renderer's "
        "file-based access control (rules.json)"
    ]


def test_every_property_the_renderer_manages_is_refused_by_the_parser_too() -> None:
    assert set(render.MANAGED) <= set(MANAGED_PROPERTIES)


def test_line_break_in_an_override_value_is_refused() -> None:
    found = problems({"configOverrides": json.dumps({"query.max-run-time": "1h\nquery.max-memory=1TB"})})
    assert len(found) == 1 and found[0].startswith("presto-on-aws:configOverrides: 'query.max-run-time':")
    assert "line break" in found[0]


def test_line_break_in_a_catalog_value_is_refused() -> None:
    catalogs = {"pg": {"connector.name": "postgresql", "connection-url": "jdbc:postgresql://db/x\r\nevil=1"}}
    found = problems({"catalogs": json.dumps(catalogs)})
    assert found == [
        "presto-on-aws:catalogs: catalogs.pg.connection-url: the value contains a line break, which a "
        ".properties file cannot hold (allowed: one line)"
    ]


def test_catalog_property_the_version_rejects_is_refused_naming_it() -> None:
    catalogs = {
        "lake": {"connector.name": "hive", "hive.metastore.uri": "thrift://h:9083", "s3.socket-timeout": "5s"}
    }
    found = problems({"catalogs": json.dumps(catalogs), "trinoVersion": "476"})
    assert len(found) == 1, found
    assert found[0].startswith(
        "presto-on-aws:catalogs: catalogs.lake.s3.socket-timeout: property 's3.socket-timeout'"
    )
    assert "s3.socket-read-timeout" in found[0] and "trinoVersion 476" in found[0]


def test_the_same_catalog_property_is_accepted_where_the_version_knows_it() -> None:
    catalogs = {
        "lake": {"connector.name": "hive", "hive.metastore.uri": "thrift://h:9083", "s3.socket-timeout": "5s"}
    }
    raw = {**VALID, "presto-on-aws:catalogs": json.dumps(catalogs), "presto-on-aws:trinoVersion": "477"}
    assert parse("test", raw).trino.catalogs["lake"]["s3.socket-timeout"] == "5s"


def test_shipped_stacks_render_for_both_roles() -> None:
    for stack in ("dev", "prod"):
        settings = load_stack_settings(stack)
        assert settings_render.render_problems(settings) == []


def test_plan_renders_from_the_json_the_nodes_read() -> None:
    settings = load_stack_settings("prod")
    text = settings_render.planned_node_settings(settings).to_json()
    node = NodeSettings.from_json(text)
    files = render.render(
        node,
        settings_render.STAND_IN_FACTS,
        Role.COORDINATOR,
        render.Layout(),
        settings_render.stand_in_secrets(node),
    )
    assert "http-server.https.enabled=true" in files["config.properties"]


def test_renderer_problems_are_reported_together_with_their_stack_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refusal only the renderer knows (here: a rule it learns later) still reaches the user
    with the stack key, next to every other refusal of the same render."""
    settings = parse(
        "test", {**VALID, "presto-on-aws:configOverrides": json.dumps({"query.max-run-time": "1h"})}
    )
    monkeypatch.setattr(render, "MANAGED", {**render.MANAGED, "query.max-run-time": "a future rule"})
    monkeypatch.setattr(
        render.versions,
        "rejection",
        lambda name, version: "no" if name == "node-scheduler.include-coordinator" else None,
    )
    settings_render._render_problems_of.cache_clear()  # rendered by the parse above, before the patch
    found = settings_render.render_problems(settings)
    settings_render._render_problems_of.cache_clear()
    assert found[0].startswith("presto-on-aws:configOverrides: a coordinator node would refuse to boot:")
    assert any(
        p.startswith(
            "presto-on-aws:configOverrides: a coordinator node would refuse to boot: config.properties: no"
        )
        for p in found
    )


def test_node_settings_beyond_the_advanced_tier_are_refused_naming_the_biggest_key() -> None:
    catalogs = {
        f"c{n}": {"connector.name": "memory", "memory.max-data-per-node": "1GB" + "0" * 300}
        for n in range(30)
    }
    found = problems({"catalogs": json.dumps(catalogs)})
    assert len(found) == 1, found
    assert found[0].startswith("presto-on-aws:catalogs: the node settings would be")
    assert "more than the 8192 an SSM parameter holds" in found[0]


def test_make_plan_lists_every_node_refusal_at_once_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = plan.main(
        [
            "--stack",
            "prod",
            "--set",
            "trinoVersion=336",
            "--set",
            'configOverrides={"security.config-file": "/x", "query.max-run-time": "1h\\nx=1"}',
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "presto-on-aws:tls: true needs trinoVersion 337" in err
    assert "'security.config-file' is set by the program" in err
    assert "'query.max-run-time': the value contains a line break" in err
    assert "Traceback" not in err
