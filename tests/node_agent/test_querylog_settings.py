"""Where the query log ships to: node settings from SSM, the password from Secrets Manager (moto),
the client's credentials and TLS, and the index mapping."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from node_agent.contract import (
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    ElasticsearchSettings,
    NodeSettings,
)
from node_agent.querylog.command import resolve_elasticsearch
from node_agent.querylog.store.base import mapping
from node_agent.querylog.store.elastic import make_client
from tests.node_agent.sample_settings import sample_node_settings

REGION = "eu-west-1"
PARAMETER = "/presto-on-aws/prod/node-settings"


def node_settings(es: ElasticsearchSettings | None) -> NodeSettings:
    return sample_node_settings(cluster="prod", region=REGION, elasticsearch=es)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def env_file(tmp_path: Path, settings: NodeSettings) -> Path:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=settings.to_json(), Type="SecureString"
    )
    path = tmp_path / "node.env"
    path.write_text(
        f"{NODE_ENV_SETTINGS_PARAMETER}={PARAMETER}\n{NODE_ENV_ROLE}=coordinator\n{NODE_ENV_REGION}={REGION}\n"
    )
    return path


def test_the_password_comes_from_secrets_manager_not_from_the_settings(aws: None, tmp_path: Path) -> None:
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(Name="es", SecretString="s3cret")[
        "ARN"
    ]
    es = ElasticsearchSettings(url="https://search.internal:9200", username="trino", password_secret_arn=arn)
    resolved, password = resolve_elasticsearch(env_file(tmp_path, node_settings(es)))
    assert resolved == es
    assert password == "s3cret"


def test_no_elasticsearch_in_the_settings_means_no_target(aws: None, tmp_path: Path) -> None:
    assert resolve_elasticsearch(env_file(tmp_path, node_settings(None))) == (None, None)


def test_an_explicit_url_needs_no_aws(tmp_path: Path) -> None:
    es, password = resolve_elasticsearch(None, "http://127.0.0.1:9200", "bench")
    assert (es, password) == (ElasticsearchSettings(url="http://127.0.0.1:9200", index_prefix="bench"), None)


def test_a_user_without_a_resolved_password_is_refused() -> None:
    with pytest.raises(ValueError, match="password_secret_arn"):
        make_client(ElasticsearchSettings(url="https://es:9200", username="trino"), None)


def test_a_ca_bundle_on_plain_http_is_refused() -> None:
    with pytest.raises(ValueError, match="not https"):
        make_client(
            ElasticsearchSettings(url="http://es:9200", ca_bundle="-----BEGIN CERTIFICATE-----"), None
        )


def test_credentials_and_the_ca_reach_the_client() -> None:
    ca = _some_ca_pem()
    client = make_client(
        ElasticsearchSettings(url="https://es.internal:9200", username="trino", ca_bundle=ca), "s3cret"
    )
    node = client.transport.node_pool.all()[0]
    assert node.config.ssl_context is not None
    assert node.config.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert client._headers["authorization"].startswith("Basic ")


def _some_ca_pem() -> str:
    import certifi

    text = Path(certifi.where()).read_text()
    start = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return text[start:end] + "\n"


@pytest.mark.parametrize(
    "field", ["user", "source", "state", "error_type", "error_name", "catalog", "input_catalogs", "query_id"]
)
def test_fields_people_group_by_are_keywords(field: str) -> None:
    assert mapping()["properties"][field]["type"] == "keyword"


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("wall_time_seconds", "double"),
        ("cpu_time_seconds", "double"),
        ("queued_time_seconds", "double"),
        ("processed_input_bytes", "long"),
        ("processed_input_rows", "long"),
        ("output_rows", "long"),
        ("peak_user_memory_bytes", "long"),
        ("end_time", "date"),
    ],
)
def test_measures_are_numbers_and_times_are_dates(field: str, kind: str) -> None:
    assert mapping()["properties"][field]["type"] == kind
