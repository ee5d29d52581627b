"""The NodeSettings a node reads at boot, computed from the stack settings (a pure function)."""

from __future__ import annotations

import json

from components.nodes.node_settings import node_settings
from components.nodes.parameter import parameter_tier
from components.settings.stack_file import load_stack_settings
from node_agent.contract import NodeSettings

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:{}-AbCdEf"


def settings_for(stack: str, **overrides: object) -> NodeSettings:
    return node_settings(
        load_stack_settings(stack, overrides),
        coordinator_address="10.0.1.10",
        region="eu-west-1",
        shared_secret_arn=ARN.format("shared"),
        lifecycle_hook_name="trino-x-drain",
        log_groups={"SERVER": "/presto-on-aws/x/server"},
        management_password_secret_arn=ARN.format("management"),
        elasticsearch_password_secret_arn=ARN.format("es-created"),
    )


def test_node_settings_survive_the_json_round_trip_the_agent_does() -> None:
    written = settings_for("prod")
    assert NodeSettings.from_json(written.to_json()) == written


def test_hive_metastore_becomes_a_hive_catalog_with_its_uri() -> None:
    hive = settings_for("dev").catalogs["hive"]
    assert hive["connector.name"] == "hive"
    assert hive["hive.metastore.uri"] == "thrift://metastore.dev.internal:9083"
    assert "hive.metastore" not in hive


def test_glue_becomes_a_hive_catalog_on_glue_in_the_stack_region() -> None:
    hive = settings_for("prod").catalogs["hive"]
    assert hive["hive.metastore"] == "glue"
    assert hive["hive.metastore.glue.region"] == "eu-west-1"
    assert "hive.metastore.uri" not in hive


def test_prestosql_gets_the_old_hive_connector_name_and_no_native_s3() -> None:
    hive = settings_for("dev", trinoVersion=350).catalogs["hive"]
    assert hive["connector.name"] == "hive-hadoop2"
    assert "fs.native-s3.enabled" not in hive


def test_no_metastore_means_no_hive_catalog() -> None:
    catalogs = settings_for("dev", metastore="none", hiveMetastoreUri=None).catalogs
    assert set(catalogs) == {"tpch", "memory"}


def test_prod_tls_settings_name_the_configured_and_generated_secrets() -> None:
    tls = settings_for("prod").tls
    assert tls.enabled and tls.authentication == "password"
    assert tls.keystore_secret_arn is not None and tls.keystore_secret_arn.endswith("trino-prod/tls-Ef34Gh")
    assert tls.password_file_secret_arn is not None and tls.password_file_secret_arn.endswith("users-Ij56Kl")
    assert tls.management_password_secret_arn == ARN.format("management")
    assert tls.internal_https is False


def test_configured_elasticsearch_secret_wins_over_a_created_one() -> None:
    es = settings_for("prod").elasticsearch
    assert es is not None
    assert es.password_secret_arn is not None and es.password_secret_arn.endswith("es-password-Ab12Cd")


def test_dev_query_log_has_no_credentials() -> None:
    es = settings_for("dev").elasticsearch
    assert es is not None
    assert (es.url, es.username, es.index_prefix) == (
        "http://search.dev.internal:9200",
        None,
        "trino-dev-queries",
    )


def test_drain_and_hook_settings_reach_the_worker_agent() -> None:
    written = settings_for("prod")
    assert written.max_drain_seconds == 12 * 3600
    assert written.heartbeat_timeout_seconds == 600
    assert written.lifecycle_hook_name == "trino-x-drain"


def _secretish_fields(value: object, path: str = "") -> dict[str, object]:
    found: dict[str, object] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if "secret" in key or "password" in key:
                found[path + key] = item
            found.update(_secretish_fields(item, f"{path}{key}."))
    return found


def test_every_secret_or_password_field_is_an_arn_never_a_value() -> None:
    fields = _secretish_fields(json.loads(settings_for("prod").to_json()))
    assert len(fields) == 5
    for name, value in fields.items():
        assert isinstance(value, str) and value.startswith("arn:aws:secretsmanager:"), name


def test_settings_beyond_4_kb_use_the_advanced_parameter_tier() -> None:
    many = {
        f"pg{i}": {"connector.name": "postgresql", "connection-url": "jdbc:postgresql://db/x" * 3}
        for i in range(40)
    }
    written = node_settings(
        load_stack_settings("dev", {"catalogs": many}),
        coordinator_address="10.0.1.10",
        region="eu-west-1",
        shared_secret_arn=ARN.format("shared"),
    ).to_json()
    assert len(written) > 4096
    assert parameter_tier(written) == "Advanced"
    assert parameter_tier(settings_for("prod").to_json()) == "Standard"
