"""A catalog's connector.name checked against what the chosen Trino release ships."""

from __future__ import annotations

import json

from components.settings.connectors import connector_table
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
