"""Which store the query log ships to, and how the program lets the coordinator reach it."""

from __future__ import annotations

import pytest

from components.iam import policies
from components.settings.model import ConfigError, ElasticsearchConfig
from components.settings.parse import parse
from components.settings.stack_file import load_stack_settings
from node_agent.contract import NodeSettings
from tests.unit.stack_config import VALID
from tools.plan import report as plan_report

DOMAIN_URL = "https://search-trino-logs-abcdefghijklmnopqrstuvwxyz.eu-central-1.es.amazonaws.com"
COLLECTION_URL = "https://07tjusf2h91cunochc4z.eu-west-1.aoss.amazonaws.com"
SCOPE = policies.Scope(partition="aws", region="eu-west-1", account="111122223333", cluster="trino-test")


def query_log(**keys: str) -> ElasticsearchConfig:
    settings = parse("test", {**VALID, **{f"presto-on-aws:{k}": v for k, v in keys.items()}})
    assert settings.elasticsearch is not None
    return settings.elasticsearch


def problems(**keys: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse("test", {**VALID, **{f"presto-on-aws:{k}": v for k, v in keys.items()}})
    return caught.value.problems


def test_a_domain_endpoint_defaults_to_the_aws_opensearch_backend_in_its_region() -> None:
    es = query_log(elasticsearchUrl=DOMAIN_URL)
    assert (es.backend, es.aws_region, es.aws_resource) == ("aws-opensearch", "eu-central-1", "trino-logs")
    assert es.url == DOMAIN_URL + ":443"


def test_a_collection_endpoint_defaults_to_the_serverless_backend() -> None:
    es = query_log(elasticsearchUrl=COLLECTION_URL)
    assert (es.backend, es.aws_region, es.aws_resource) == (
        "aws-opensearch-serverless",
        "eu-west-1",
        "07tjusf2h91cunochc4z",
    )


def test_any_other_host_defaults_to_elasticsearch() -> None:
    assert query_log(elasticsearchUrl="https://search.internal:9200").backend == "elasticsearch"


def test_the_explicit_backend_wins_over_the_inferred_one() -> None:
    es = query_log(
        elasticsearchUrl=DOMAIN_URL,
        queryLogBackend="opensearch",
        elasticsearchUsername="trino",
        elasticsearchPasswordSecretArn="arn:aws:secretsmanager:eu-west-1:111122223333:secret:es-AbCdEf",
    )
    assert (es.backend, es.aws_resource) == ("opensearch", None)


def test_an_unknown_backend_is_refused_naming_the_allowed_ones() -> None:
    [problem] = problems(elasticsearchUrl="https://es:9200", queryLogBackend="solr")
    assert "queryLogBackend" in problem
    assert "elasticsearch, opensearch, aws-opensearch, aws-opensearch-serverless" in problem


def test_a_sigv4_backend_with_a_username_is_refused() -> None:
    found = problems(
        elasticsearchUrl=DOMAIN_URL,
        elasticsearchUsername="trino",
        elasticsearchPasswordSecretArn="arn:aws:secretsmanager:eu-west-1:111122223333:secret:es-AbCdEf",
    )
    assert any("queryLogBackend" in p and "takes no elasticsearchUsername" in p for p in found), found


def test_a_sigv4_backend_on_a_host_that_names_no_domain_is_refused() -> None:
    [problem] = problems(elasticsearchUrl="https://logs.example.com", queryLogBackend="aws-opensearch")
    assert "elasticsearchUrl" in problem and "search-<domain>-<id>.<region>.es.amazonaws.com" in problem


def test_a_sigv4_backend_over_plain_http_is_refused() -> None:
    [problem] = problems(elasticsearchUrl=DOMAIN_URL.replace("https", "http"))
    assert "https:// only" in problem


@pytest.mark.parametrize("days", ["0", "3651", "a month"])
def test_retention_outside_1_to_3650_days_is_refused(days: str) -> None:
    [problem] = problems(elasticsearchUrl="https://es:9200", queryLogRetentionDays=days)
    assert "queryLogRetentionDays" in problem


def test_retention_defaults_to_30_days() -> None:
    assert query_log(elasticsearchUrl="https://es:9200").retention_days == 30


def test_store_keys_without_a_url_are_refused() -> None:
    [problem] = problems(queryLogBackend="opensearch")
    assert "queryLogBackend: is set but elasticsearchUrl is not" in problem


def test_the_coordinator_may_call_exactly_the_domains_http_api() -> None:
    [statement] = policies._query_log(SCOPE, query_log(elasticsearchUrl=DOMAIN_URL))
    assert statement["Action"] == ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"]
    assert statement["Resource"] == ["arn:aws:es:eu-central-1:111122223333:domain/trino-logs/*"]


def test_the_coordinator_may_call_exactly_the_collection() -> None:
    [statement] = policies._query_log(SCOPE, query_log(elasticsearchUrl=COLLECTION_URL))
    assert statement["Action"] == ["aoss:APIAccessAll"]
    assert statement["Resource"] == ["arn:aws:aoss:eu-west-1:111122223333:collection/07tjusf2h91cunochc4z"]


def test_a_password_backend_grants_no_aws_actions() -> None:
    assert policies._query_log(SCOPE, query_log(elasticsearchUrl="https://es:9200")) == []
    document = policies.coordinator_policy(
        SCOPE,
        policies.NodeGrants("/p", ["/g"], []),
        glue=False,
        query_log=query_log(elasticsearchUrl="https://es:9200"),
    )
    assert not any(a.startswith(("es:", "aoss:")) for s in document["Statement"] for a in s["Action"])


def test_plan_names_backend_and_sigv4_auth() -> None:
    line = plan_report.query_log_line(query_log(elasticsearchUrl=DOMAIN_URL))
    assert line.startswith(f"aws-opensearch at {DOMAIN_URL}:443 over https")
    assert "SigV4 (es, eu-central-1) with the coordinator role on domain/trino-logs" in line


def test_plan_names_basic_auth_and_retention_for_prod() -> None:
    line = plan_report.query_log_line(load_stack_settings("prod").elasticsearch)
    assert line == (
        "elasticsearch at https://search.prod.internal:9200 over https, basic auth (password from "
        "Secrets Manager); indices deleted after 90 days"
    )


def test_node_settings_carry_backend_region_and_retention_to_the_agent() -> None:
    from components.nodes.node_settings import node_settings

    settings = parse("test", {**VALID, "presto-on-aws:elasticsearchUrl": COLLECTION_URL})
    written = node_settings(
        settings, coordinator_address="10.0.1.10", region="eu-west-1", shared_secret_arn="a"
    )
    es = NodeSettings.from_json(written.to_json()).elasticsearch
    assert es is not None
    assert (es.backend, es.aws_region, es.retention_days, es.sigv4_service) == (
        "aws-opensearch-serverless",
        "eu-west-1",
        30,
        "aoss",
    )
