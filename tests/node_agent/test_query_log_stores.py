"""The seam under the query-log shipper: which store a backend gets, the retention policies each
server is given (exactly), and how a refused policy is reported without stopping the shipping."""

from __future__ import annotations

import logging

import pytest
from botocore.credentials import Credentials

from node_agent.contract import ElasticsearchSettings
from node_agent.querylog.store.base import (
    StoreRefused,
    ensure_retention,
    fingerprint,
    index_template,
    open_store,
)
from node_agent.querylog.store.elastic import ElasticStore, ilm_policy, index_settings
from node_agent.querylog.store.opensearch import OpenSearchStore, ism_policy, make_client

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.mark.parametrize(
    ("backend", "kind"),
    [
        ("elasticsearch", ElasticStore),
        ("opensearch", OpenSearchStore),
        ("aws-opensearch", OpenSearchStore),
        ("aws-opensearch-serverless", OpenSearchStore),
    ],
)
def test_each_backend_gets_its_own_client_behind_the_same_seam(
    backend: str, kind: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_key)
    settings = ElasticsearchSettings(
        url="https://store.internal:443", backend=backend, aws_region="eu-west-1"
    )
    assert isinstance(open_store(settings, None), kind)


def test_an_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'solr' is not a query-log store"):
        open_store(ElasticsearchSettings(url="https://es:9200", backend="solr"), None)


def test_the_ilm_policy_deletes_indices_after_the_retention_and_does_nothing_else() -> None:
    phases = {"delete": {"min_age": "30d", "actions": {"delete": {}}}}
    assert ilm_policy(30) == {
        "phases": phases,
        "_meta": {"managed_by": "presto-on-aws node-agent querylog", "fingerprint": fingerprint(phases)},
    }


def test_elasticsearch_counts_an_index_age_from_the_day_in_its_name() -> None:
    template = index_template("q", index_settings("q-retention"))
    assert template["template"]["settings"] == {
        "number_of_shards": 1,
        "index.lifecycle.name": "q-retention",
        "index.lifecycle.parse_origination_date": True,
    }


def test_the_ism_policy_deletes_prefix_indices_after_the_retention() -> None:
    policy = ism_policy("trino-queries", 7)
    assert policy["default_state"] == "open"
    assert policy["states"] == [
        {
            "name": "open",
            "actions": [],
            "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "7d"}}],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ]
    assert policy["ism_template"] == [{"index_patterns": ["trino-queries-*"], "priority": 100}]
    assert policy["description"].startswith(
        "presto-on-aws node-agent querylog: delete trino-queries-* after 7 days ["
    )


def test_a_changed_retention_changes_the_policy_fingerprint() -> None:
    assert ism_policy("q", 7)["description"] != ism_policy("q", 8)["description"]
    assert ilm_policy(7)["_meta"] != ilm_policy(8)["_meta"]


@pytest.mark.parametrize(
    ("backend", "service"), [("aws-opensearch", "es"), ("aws-opensearch-serverless", "aoss")]
)
def test_aws_backends_sign_for_their_service_and_region(backend: str, service: str) -> None:
    settings = ElasticsearchSettings(
        url="https://x.amazonaws.com:443", backend=backend, aws_region="eu-west-1"
    )
    client = make_client(settings, None, credentials=CREDENTIALS)
    auth = client.transport.kwargs["http_auth"]
    assert (auth.signer.service, auth.signer.region) == (service, "eu-west-1")


def test_a_sigv4_backend_with_a_username_is_refused() -> None:
    settings = ElasticsearchSettings(
        url="https://x:443", backend="aws-opensearch", aws_region="eu-west-1", username="trino"
    )
    with pytest.raises(ValueError, match="signs requests with the node's role"):
        make_client(settings, "pw", credentials=CREDENTIALS)


def test_a_refused_retention_policy_is_logged_and_does_not_stop_shipping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse() -> bool:
        raise StoreRefused(403, "action [cluster:admin/ilm/put] is unauthorized for user [trino-querylog]")

    with caplog.at_level(logging.ERROR):
        ensure_retention("elasticsearch at https://es:9200", "q-retention", 30, refuse)
    [record] = caplog.records
    assert "RETENTION NOT APPLIED" in record.message
    assert "lacks the privilege to manage lifecycle policies" in record.message
    assert "cluster:admin/ilm/put" in record.message


def test_an_unreachable_server_during_retention_is_left_to_the_shippers_retry() -> None:
    def unreachable() -> bool:
        raise ConnectionError("connection refused")

    with pytest.raises(ConnectionError):
        ensure_retention("elasticsearch at https://es:9200", "q-retention", 30, unreachable)
