"""connectors.json against the real thing: what the plugins of Trino's server tarball register."""

from __future__ import annotations

import pytest

from components.settings.connectors import connector_table
from tools.connectors.__main__ import connectors_of

pytestmark = pytest.mark.integration


def test_the_plan_knows_every_connector_trino_476_registers_and_no_other() -> None:
    assert set(connectors_of(476)) == connector_table()[476]
