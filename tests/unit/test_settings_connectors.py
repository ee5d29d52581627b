"""A catalog's connector.name and properties checked against what the chosen Trino release ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.nodes.node_settings import metastore_catalog
from components.settings.connectors import TABLE, connector_table, property_problem, read_table, write_table
from components.settings.parse import parse
from components.settings.stack_file import load_stack_settings
from tests.unit.stack_config import only, raw_with


def catalog(connector: str, version: int = 476) -> dict[str, str]:
    properties = {"connector.name": connector, "connection-url": "jdbc:postgresql://db:5432/app"}
    return {"catalogs": json.dumps({"app": properties}), "trinoVersion": str(version)}


def test_postgres_is_refused_with_postgresql_suggested() -> None:
    message = only(catalog("postgres"))
    assert message.startswith(
        "presto-on-aws:catalogs: catalogs.app.connector.name: 'postgres' is not a connector"
    )
    assert "did you mean postgresql?" in message


def test_a_connector_the_release_ships_is_accepted() -> None:
    settings = parse("test", raw_with(catalog("postgresql")))
    assert settings.trino.catalogs["app"]["connector.name"] == "postgresql"


def test_a_connector_an_older_release_shipped_says_which() -> None:
    message = only(catalog("kudu", 476))
    assert "'kudu' is not a connector of Trino 476" in message and "Trino 470 ships it" in message


def test_a_release_the_table_lacks_still_refuses_a_near_miss() -> None:
    assert "did you mean postgresql?" in only(catalog("postgres", 480))


def test_a_release_the_table_lacks_accepts_a_name_it_cannot_judge() -> None:
    settings = parse("test", raw_with(catalog("lakehouse", 480)))
    assert settings.trino.catalogs["app"]["connector.name"] == "lakehouse"


def test_the_table_holds_the_release_each_stack_ships() -> None:
    for stack in ("dev", "prod"):
        assert load_stack_settings(stack).trino.version in connector_table()


# --- catalog properties ----------------------------------------------------------------------
def memory_catalog(version: int = 476, **properties: str) -> dict[str, str]:
    return {
        "catalogs": json.dumps({"scratch": {"connector.name": "memory", **properties}}),
        "trinoVersion": str(version),
    }


def test_a_catalog_property_typo_is_refused_with_the_property_suggested() -> None:
    message = only(memory_catalog(**{"memory.max-data-per-nodee": "1GB"}))
    assert message.startswith(
        "presto-on-aws:catalogs: catalogs.scratch.memory.max-data-per-nodee: 'memory.max-data-per-nodee' "
        "is not a property the memory connector of Trino 476 knows"
    )
    assert "did you mean memory.max-data-per-node?" in message
    assert "Configuration property 'memory.max-data-per-nodee' was not used" in message


def test_a_property_the_connectors_plugin_binds_is_accepted() -> None:
    settings = parse("test", raw_with(memory_catalog(**{"memory.max-data-per-node": "1GB"})))
    assert settings.trino.catalogs["scratch"]["memory.max-data-per-node"] == "1GB"


def test_every_property_of_a_jdbc_catalog_users_write_is_accepted() -> None:
    properties = {
        "connection-url": "jdbc:postgresql://db:5432/app",
        "connection-user": "trino",
        "case-insensitive-name-matching": "true",
        "postgresql.array-mapping": "AS_ARRAY",
    }
    assert property_problems("postgresql", properties) == []


def test_every_property_of_a_lake_catalog_users_write_is_accepted() -> None:
    properties = {
        "hive.metastore": "glue",
        "hive.metastore.glue.region": "eu-west-1",
        "fs.native-s3.enabled": "true",
        "s3.region": "eu-west-1",
        "iceberg.catalog.type": "glue",
    }
    assert property_problems("iceberg", {k: v for k, v in properties.items() if k != "hive.metastore"}) == []
    assert (
        property_problems("hive", {k: v for k, v in properties.items() if k != "iceberg.catalog.type"}) == []
    )


def test_a_key_ending_in_a_known_property_passes_as_a_config_bound_under_a_prefix() -> None:
    assert property_problem("memory", "scratch-client.http-client.connect-timeout", 476) is None


def test_a_property_of_another_plugin_is_refused() -> None:
    assert property_problem("memory", "connection-url", 476) is not None


def test_a_release_the_table_lacks_does_not_judge_properties() -> None:
    settings = parse("test", raw_with(memory_catalog(483, **{"memory.max-data-per-nodee": "1GB"})))
    assert "memory.max-data-per-nodee" in settings.trino.catalogs["scratch"]


def test_a_catalog_with_an_unknown_connector_is_refused_once_not_per_property() -> None:
    raw = {"catalogs": json.dumps({"app": {"connector.name": "postgres", "connection-url": "jdbc:x"}})}
    message = only(raw)
    assert "connector.name" in message and "connection-url" not in message.split("allowed:")[0]


def test_regenerating_the_same_table_writes_the_same_bytes(tmp_path: Path) -> None:
    table = read_table()
    write_table(table, tmp_path / "again.json.gz")
    assert (tmp_path / "again.json.gz").read_bytes() == TABLE.read_bytes()


def property_problems(connector: str, properties: dict[str, str]) -> list[str]:
    return [p for key in properties if (p := property_problem(connector, key, 476))]


@pytest.mark.parametrize("version", [470, 476])
@pytest.mark.parametrize("metastore", ["hive", "glue"])
def test_the_hive_catalog_the_program_writes_uses_only_properties_its_plugin_binds(
    version: int, metastore: str
) -> None:
    raw = {"trinoVersion": str(version), "metastore": metastore}
    if metastore == "hive":
        raw["hiveMetastoreUri"] = "thrift://metastore:9083"
    catalog = metastore_catalog(parse("test", raw_with(raw)), "eu-west-1")
    assert catalog is not None
    assert [p for k in catalog if (p := property_problem(catalog["connector.name"], k, version))] == []
