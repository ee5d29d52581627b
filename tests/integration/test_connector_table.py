"""connectors.json.gz against the real thing: what the plugins of Trino's server tarball register
and can bind, and a real server refusing the catalog property the plan refuses."""

from __future__ import annotations

import dataclasses

import pytest

from components.settings.connectors import connector_table, property_problem, property_table
from tools.connectors.__main__ import connectors_of
from tools.harness.trino import TrinoFactory, default_settings
from tools.harness.trino_node import TrinoStartError

pytestmark = pytest.mark.integration

VERSION = 476  # the release CI's suite boots; the table's other release is checked by hand
TYPO = "memory.max-data-per-nodee"


@pytest.fixture(scope="module")
def from_tarball() -> dict[str, list[str]]:
    return connectors_of(VERSION)


def test_the_plan_knows_every_connector_trino_476_registers_and_no_other(
    from_tarball: dict[str, list[str]],
) -> None:
    assert set(from_tarball) == connector_table()[VERSION]


def test_the_plan_knows_every_property_the_476_plugins_bind_and_no_other(
    from_tarball: dict[str, list[str]],
) -> None:
    assert {name: frozenset(p) for name, p in from_tarball.items()} == property_table()[VERSION]


def test_a_real_476_coordinator_refuses_the_catalog_property_the_plan_refuses(
    trino_factory: TrinoFactory,
) -> None:
    assert property_problem("memory", TYPO, VERSION) is not None
    catalogs = {"scratch": {"connector.name": "memory", TYPO: "64MB"}}
    settings = dataclasses.replace(default_settings(VERSION), catalogs=catalogs)

    # A lone coordinator: it loads its catalogs at start-up and exits on the bad one.
    with pytest.raises(TrinoStartError) as refused:
        trino_factory.start_cluster(workers=0, settings=settings, timeout=180)

    assert f"Configuration property '{TYPO}' was not used" in str(refused.value)
