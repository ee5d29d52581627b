"""The smallest valid raw config and the problems parse() reports for changes to it, shared by
the settings tests (raw config: full key -> text, as the Pulumi CLI hands it to the program)."""

from __future__ import annotations

import pytest

from components.settings.model import ConfigError
from components.settings.parse import parse

VALID = {
    "aws:region": "eu-west-1",
    "presto-on-aws:environment": "test",
    "presto-on-aws:vpcId": "vpc-0a1b2c3d",
    "presto-on-aws:coordinatorSubnetId": "subnet-0a1b2c3d",
    "presto-on-aws:workerSubnetIds": '["subnet-0a1b2c3d"]',
    "presto-on-aws:tls": "false",
}


def raw_with(changes: dict[str, str | None]) -> dict[str, str]:
    """VALID with `changes` applied (short or full keys; None removes a key)."""
    raw = {**VALID, **{k if ":" in k else f"presto-on-aws:{k}": v for k, v in changes.items()}}
    return {k: v for k, v in raw.items() if v is not None}


def problems(changes: dict[str, str | None], secret: set[str] | None = None) -> list[str]:
    """The problems parse() reports for VALID with `changes` applied."""
    with pytest.raises(ConfigError) as caught:
        parse("test", raw_with(changes), secret or set())
    return caught.value.problems


def only(changes: dict[str, str | None], secret: set[str] | None = None) -> str:
    found = problems(changes, secret)
    assert len(found) == 1, found
    return found[0]
