"""The two doors into the settings: the environment `pulumi up` gives the program, and the
stack file read offline; both must give the same settings."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.settings.parse import parse
from components.settings.stack_file import load_stack_settings, raw_from_pulumi, read_stack_file


@pytest.fixture
def engine_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Config as the Python language host hands it over under `pulumi up`: one JSON environment
    variable with every value as text, and the list of secret keys beside it."""
    raw, _ = read_stack_file("prod")
    raw["presto-on-aws:elasticsearchPassword"] = "from-the-engine"
    del raw["presto-on-aws:elasticsearchPasswordSecretArn"]
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(raw))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["presto-on-aws:elasticsearchPassword"]))
    pulumi.runtime.set_all_config({}, [])
    return raw


def test_engine_environment_is_read_whole_with_its_secret_keys(engine_config: dict[str, str]) -> None:
    raw, secret = raw_from_pulumi()
    assert raw == engine_config
    assert secret == {"presto-on-aws:elasticsearchPassword"}


def test_engine_and_offline_reads_give_the_same_settings(engine_config: dict[str, str]) -> None:
    raw, secret = raw_from_pulumi()
    from_engine = parse("prod", raw, secret)
    offline = load_stack_settings(
        "prod",
        {"elasticsearchPasswordSecretArn": None, "elasticsearchPassword": from_engine.elasticsearch.password},
    )
    assert from_engine == offline
