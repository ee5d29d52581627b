"""Retention at agent start, over HTTP against StandInSearchServer (see its docstring for why a
stand-in): the exact policy each product gets, that a restart writes nothing, that a changed
retention updates the one policy in place, and that a refused or absent lifecycle API still lets
the template (and so the shipping) through."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from node_agent.contract import ElasticsearchSettings
from node_agent.querylog.store.base import Store, open_store
from node_agent.querylog.store.elastic import ilm_policy
from node_agent.querylog.store.opensearch import ism_policy
from tests.node_agent.standin_search import ILM, ISM, StandInSearchServer, standin_search_server

PREFIX = "trino-queries"
POLICY = f"{PREFIX}-retention"


@pytest.fixture
def server() -> Iterator[StandInSearchServer]:
    with standin_search_server() as running:
        yield running


def store(server: StandInSearchServer, backend: str, days: int = 30) -> Store:
    return open_store(ElasticsearchSettings(url=server.url, backend=backend, retention_days=days), None)


def test_elasticsearch_gets_exactly_the_ilm_policy_and_a_template_naming_it(
    server: StandInSearchServer,
) -> None:
    store(server, "elasticsearch", days=14).prepare()
    assert server.state.policies[POLICY].body == ilm_policy(14)
    settings = server.state.templates[PREFIX]["template"]["settings"]
    assert settings["index.lifecycle.name"] == POLICY


def test_a_second_elasticsearch_start_writes_no_policy(server: StandInSearchServer) -> None:
    store(server, "elasticsearch").prepare()
    store(server, "elasticsearch").prepare()
    assert server.writes(ILM) == [ILM + POLICY]
    assert server.state.policies[POLICY].version == 1


def test_a_changed_retention_updates_the_one_ilm_policy(server: StandInSearchServer) -> None:
    store(server, "elasticsearch", days=30).prepare()
    store(server, "elasticsearch", days=90).prepare()
    assert list(server.state.policies) == [POLICY]
    assert server.state.policies[POLICY].version == 2
    assert server.state.policies[POLICY].body == ilm_policy(90)


def test_opensearch_gets_exactly_the_ism_policy(server: StandInSearchServer) -> None:
    store(server, "opensearch", days=14).prepare()
    assert server.state.policies[POLICY].body == ism_policy(PREFIX, 14)
    assert "settings" in server.state.templates[PREFIX]["template"]


def test_a_second_opensearch_start_writes_no_policy(server: StandInSearchServer) -> None:
    store(server, "opensearch").prepare()
    store(server, "opensearch").prepare()
    assert server.writes(ISM) == [ISM + POLICY]


def test_a_changed_retention_updates_the_ism_policy_quoting_its_sequence_number(
    server: StandInSearchServer,
) -> None:
    store(server, "opensearch", days=30).prepare()
    store(server, "opensearch", days=90).prepare()  # a PUT without if_seq_no would get a 409
    assert server.state.policies[POLICY].body == ism_policy(PREFIX, 90)
    assert server.state.policies[POLICY].seq_no == 1


@pytest.mark.parametrize("backend", ["elasticsearch", "opensearch"])
def test_a_forbidden_policy_api_is_logged_and_the_template_still_goes_in(
    server: StandInSearchServer, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.state.mode = "forbidden"
    with caplog.at_level(logging.ERROR):
        store(server, backend).prepare()
    assert PREFIX in server.state.templates
    [line] = [r.message for r in caplog.records if "RETENTION NOT APPLIED" in r.message]
    assert "lacks the privilege to manage lifecycle policies" in line


def test_without_ilm_the_elasticsearch_template_names_no_policy(
    server: StandInSearchServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.state.mode = "absent"
    with caplog.at_level(logging.ERROR):
        store(server, "elasticsearch").prepare()
    assert "index.lifecycle.name" not in server.state.templates[PREFIX]["template"]["settings"]
    assert any("has no lifecycle API" in r.message for r in caplog.records)


def test_serverless_puts_no_policy_and_no_shard_settings(
    server: StandInSearchServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = ElasticsearchSettings(
        url=server.url, backend="aws-opensearch-serverless", aws_region="eu-west-1"
    )
    open_store(settings, None).prepare()
    assert server.writes(ISM) == []
    assert "settings" not in server.state.templates[PREFIX]["template"]
