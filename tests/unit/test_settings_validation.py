"""Every validation rule of the stack config, read through the message a user would see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.settings.keys import KNOWN
from components.settings.model import ConfigError, SecretText
from components.settings.parse import parse
from components.settings.stack_file import load_stack_settings, read_stack_file
from components.settings.trino import catalog_secret_arns
from tests.unit.stack_config import VALID, only, problems
from tools.plan import command as plan


def test_minimal_config_parses_with_documented_defaults() -> None:
    settings = parse("test", VALID)
    assert settings.name == "trino-test"
    assert settings.coordinator.count == 2
    assert settings.trino.version == 476
    assert settings.workers.desired_capacity == settings.workers.min_size == 1
    assert settings.log_retention_days == {
        "server": 30,
        "httpRequest": 14,
        "agent": 30,
        "syslog": 14,
        "functions": 30,
    }


def test_worker_min_greater_than_max_is_refused() -> None:
    message = only({"workerMinSize": "5", "workerMaxSize": "3"})
    assert "presto-on-aws:workerMinSize" in message
    assert "5 is greater than workerMaxSize 3" in message


@pytest.mark.parametrize("count", ["0", "3"])
def test_coordinator_count_other_than_one_or_two_is_refused(count: str) -> None:
    message = only({"coordinatorCount": count})
    assert message.startswith("presto-on-aws:coordinatorCount:")
    assert "allowed: 1 or 2" in message


@pytest.mark.parametrize(
    "uri", ["http://hms:9083", "thrift://hms", "hms:9083", "thrift://:9083", "thrift://h:99999"]
)
def test_malformed_hive_metastore_uri_is_refused(uri: str) -> None:
    message = only({"metastore": "hive", "hiveMetastoreUri": uri})
    assert "presto-on-aws:hiveMetastoreUri" in message
    assert "thrift://host:port" in message


def test_hive_metastore_without_uri_is_refused() -> None:
    message = only({"metastore": "hive"})
    assert "hiveMetastoreUri: missing required key" in message


@pytest.mark.parametrize(
    "url", ["ftp://es:9200", "es.internal:9200", "https://es:9200/path", "https://:9200"]
)
def test_malformed_elasticsearch_url_is_refused(url: str) -> None:
    message = only({"elasticsearchUrl": url})
    assert "presto-on-aws:elasticsearchUrl" in message
    assert "http(s)://host[:port]" in message


def test_elasticsearch_port_defaults_to_9200() -> None:
    settings = parse("test", {**VALID, "presto-on-aws:elasticsearchUrl": "https://es.internal"})
    assert settings.elasticsearch is not None
    assert settings.elasticsearch.url == "https://es.internal:9200"


@pytest.mark.parametrize(
    ("cidr", "reason"),
    [
        ("10.0.0.1/16", "host bits"),
        ("10.0.0.0/33", "host bits"),
        ("0.0.0.0/0", "whole internet"),
        ("fd00::/8", "IPv4"),
    ],
)
def test_bad_client_cidr_is_refused(cidr: str, reason: str) -> None:
    message = only({"clientCidrs": f'["{cidr}"]'})
    assert "presto-on-aws:clientCidrs" in message
    assert reason in message


def test_metrics_cidr_open_to_the_world_is_refused() -> None:
    assert "whole internet" in only({"metricsCidrs": '["0.0.0.0/0"]'})


@pytest.mark.parametrize("days", [2, 10, 0, 4000])
def test_log_retention_cloudwatch_does_not_accept_is_refused(days: int) -> None:
    message = only({"logRetentionDays": f'{{"server": {days}}}'})
    assert f"server: {days} days is not a CloudWatch retention" in message
    assert "1, 3, 5, 7, 14, 30" in message


def test_unknown_log_kind_suggests_the_known_one() -> None:
    message = only({"logRetentionDays": '{"sever": 7}'})
    assert "unknown log kind 'sever'" in message
    assert "did you mean server?" in message


def test_unknown_key_suggests_the_closest_known_key() -> None:
    message = only({"workerMaxSzie": "3"})
    assert message == "presto-on-aws:workerMaxSzie: unknown key; did you mean presto-on-aws:workerMaxSize?"


def test_unknown_namespace_is_refused_with_a_suggestion() -> None:
    message = only({"presto-on-awz:workerMaxSize": "3"})
    assert "unknown namespace 'presto-on-awz'" in message
    assert "did you mean presto-on-aws:workerMaxSize?" in message


def test_drain_longer_than_48_hours_is_refused() -> None:
    message = only({"maxDrainMinutes": str(49 * 60), "lifecycleHeartbeatSeconds": "7200"})
    assert "presto-on-aws:maxDrainMinutes" in message
    assert "longer than 48 h" in message
    assert "allowed: 1-2880" in message


def test_drain_longer_than_100_heartbeats_is_refused() -> None:
    message = only({"maxDrainMinutes": "720", "lifecycleHeartbeatSeconds": "300"})
    assert "longer than 100 heartbeats of 300 s" in message
    assert "raise lifecycleHeartbeatSeconds to at least 432" in message


@pytest.mark.parametrize("key", ["environment", "vpcId", "coordinatorSubnetId", "workerSubnetIds"])
def test_missing_required_key_is_named(key: str) -> None:
    message = only({key: None})
    assert message.startswith(f"presto-on-aws:{key}: missing required key")


def test_missing_region_is_named() -> None:
    assert only({"aws:region": None}).startswith("aws:region: missing required key")


@pytest.mark.parametrize("version", ["329", "484", "latest"])
def test_trino_version_out_of_range_is_refused(version: str) -> None:
    message = only({"trinoVersion": version})
    assert "presto-on-aws:trinoVersion" in message
    assert "330" in message and "483" in message


def test_every_problem_is_reported_together() -> None:
    found = problems({"workerMinSize": "9", "coordinatorCount": "3", "vpcId": None, "workerMaxSzie": "1"})
    assert len(found) == 4
    text = "\n".join(found)
    for key in ("workerMinSize", "coordinatorCount", "vpcId", "workerMaxSzie"):
        assert f"presto-on-aws:{key}" in text


def test_config_error_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(
            "test", {k: v for k, v in VALID.items() if k != "presto-on-aws:vpcId"} | {"aws:region": "nowhere"}
        )
    text = str(caught.value)
    assert text.startswith("stack 'test': 2 configuration problem(s):")
    assert "\n  - aws:region: 'nowhere' is not an AWS region" in text


def test_password_in_plain_text_is_refused() -> None:
    changes = {
        "elasticsearchUrl": "https://es:9200",
        "elasticsearchUsername": "trino",
        "elasticsearchPassword": "hunter2",
    }
    message = only(changes)
    assert "elasticsearchPassword: is stored in plain text" in message
    assert "pulumi config set --secret" in message


def test_password_set_as_secret_is_accepted_and_hidden() -> None:
    raw = {
        **VALID,
        "presto-on-aws:elasticsearchUrl": "https://es:9200",
        "presto-on-aws:elasticsearchUsername": "trino",
        "presto-on-aws:elasticsearchPassword": "hunter2",
    }
    settings = parse("test", raw, {"presto-on-aws:elasticsearchPassword"})
    assert settings.elasticsearch is not None
    assert settings.elasticsearch.password == SecretText("hunter2")
    assert "hunter2" not in repr(settings)


def test_credentials_over_plain_http_are_refused() -> None:
    changes = {
        "elasticsearchUrl": "http://es:9200",
        "elasticsearchUsername": "trino",
        "elasticsearchPasswordSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:es-AbCdEf",
    }
    assert "would send the password in clear text" in only(changes)


def test_elasticsearch_username_without_password_is_refused() -> None:
    message = only({"elasticsearchUrl": "https://es:9200", "elasticsearchUsername": "trino"})
    assert "elasticsearchUsername needs a password" in message


def test_elasticsearch_keys_without_url_are_refused() -> None:
    assert "is set but elasticsearchUrl is not" in only({"elasticsearchUsername": "trino"})


def test_elasticsearch_index_prefix_without_url_is_refused() -> None:
    message = only({"elasticsearchIndexPrefix": "trino-q"})
    assert message.startswith("presto-on-aws:elasticsearchIndexPrefix: is set but elasticsearchUrl is not")


def test_memory_threshold_of_100_that_can_never_fire_is_refused() -> None:
    message = only({"scalingMemoryReservedPercent": "100"})
    assert "presto-on-aws:scalingMemoryReservedPercent: 100 is out of range" in message
    assert "100 would never fire" in message


def test_password_authentication_without_tls_is_refused() -> None:
    message = problems(
        {
            "authentication": "password",
            "passwordFileSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:users-AbCdEf",
        }
    )
    assert message == [
        "presto-on-aws:authentication: 'password' needs tls: true (Trino accepts passwords only over HTTPS)"
    ]


def test_tls_is_on_by_default_and_needs_its_certificate() -> None:
    found = problems({"tls": None})
    assert any(
        p.startswith("presto-on-aws:tlsCertificateSecretArn: missing required key: tls is true")
        for p in found
    )
    assert any(p.startswith("presto-on-aws:passwordFileSecretArn: missing required key") for p in found)


def test_malformed_secret_arn_is_refused() -> None:
    message = problems({"tls": "true", "authentication": "none", "tlsCertificateSecretArn": "my-cert"})
    assert any("tlsCertificateSecretArn: 'my-cert' is not valid" in p for p in message)


def test_ca_bundle_that_is_not_pem_is_refused() -> None:
    assert "tlsCaBundle: is not PEM" in only({"tlsCaBundle": "my-ca"})


def test_ca_bundle_too_big_for_the_function_environment_is_refused() -> None:
    bundle = "-----BEGIN CERTIFICATE-----\n" + "A" * 4000
    message = only({"tlsCaBundle": bundle})
    assert "the function environment holds at most 3000" in message


def test_task_retry_without_exchange_bucket_is_refused() -> None:
    assert "retryPolicy TASK needs an S3 bucket" in only({"retryPolicy": "TASK"})


def test_retry_policy_before_fault_tolerant_execution_is_refused() -> None:
    message = only({"retryPolicy": "QUERY", "trinoVersion": "350"})
    assert "arrived in 369" in message


def test_override_of_a_managed_property_is_refused() -> None:
    message = only({"configOverrides": '{"discovery.uri": "http://elsewhere:8080"}'})
    assert "'discovery.uri' is set by the program from the coordinator address" in message


def test_override_the_chosen_version_rejects_is_refused() -> None:
    message = only({"configOverrides": '{"query.max-total-memory-per-node": "10GB"}'})
    assert "query.max-total-memory-per-node" in message
    assert "476" in message


def test_catalog_without_connector_name_is_refused() -> None:
    message = only({"catalogs": '{"sales": {"connection-url": "jdbc:postgresql://db/sales"}}'})
    assert "catalog 'sales': needs connector.name" in message


SALES_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:trino/sales-Ab12Cd"


def sales_catalog(connector: str = "postgresql", **properties: str) -> dict[str, str]:
    """A catalog of `connector`; the properties are ones its plugin binds (the plan checks that)."""
    catalog = {"connector.name": connector, **properties}
    if connector == "postgresql":
        catalog = {"connection-url": "jdbc:postgresql://db/sales", **catalog}
    return {"catalogs": json.dumps({"sales": catalog})}


def parsed_sales(connector: str = "postgresql", **properties: str) -> dict[str, str]:
    raw = {**VALID, "presto-on-aws:catalogs": sales_catalog(connector, **properties)["catalogs"]}
    return dict(parse("test", raw).trino.catalogs["sales"])


def test_catalog_password_in_plain_text_is_refused_naming_the_property() -> None:
    message = only(sales_catalog(**{"connection-password": "hunter2"}))
    assert "catalogs.sales.connection-password" in message
    assert "secretsmanager:<arn>" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("connector", "name"),
    [
        ("hive", "hive.s3.aws-secret-key"),
        ("hive", "s3.aws-access-key"),
        ("iceberg", "iceberg.rest-catalog.oauth2.token"),
    ],
)
def test_catalog_property_named_like_a_credential_with_a_literal_value_is_refused(
    connector: str, name: str
) -> None:
    message = only(sales_catalog(connector, **{name: "AKIAEXAMPLE"}))
    assert f"catalogs.sales.{name}: looks like a credential" in message


def test_catalog_property_that_only_mentions_a_key_is_not_a_credential() -> None:
    assert (
        parsed_sales("redis", **{"redis.key-prefix-schema-table": "true"})["redis.key-prefix-schema-table"]
        == "true"
    )


def test_catalog_password_given_as_a_secret_reference_is_kept_as_the_reference() -> None:
    reference = f"secretsmanager:{SALES_SECRET}"
    assert parsed_sales(**{"connection-password": reference})["connection-password"] == reference


def test_catalog_secret_reference_may_name_a_json_key() -> None:
    reference = f"secretsmanager:{SALES_SECRET}#password"
    assert parsed_sales(**{"connection-password": reference})["connection-password"] == reference


def test_catalog_secret_reference_to_something_other_than_a_secret_arn_is_refused() -> None:
    bad = "secretsmanager:arn:aws:ssm:eu-west-1:111122223333:parameter/sales"
    message = only(sales_catalog(**{"connection-password": bad}))
    assert "catalogs.sales.connection-password" in message and "is not a valid reference" in message
    assert "arn:aws:secretsmanager:<region>:<account>:secret:<name>" in message


def test_catalog_secret_reference_with_an_empty_json_key_is_refused() -> None:
    message = only(sales_catalog(**{"connection-password": f"secretsmanager:{SALES_SECRET}#"}))
    assert "catalogs.sales.connection-password" in message and "#<json key>" in message


def test_catalog_secret_arns_lists_each_referenced_secret_once() -> None:
    catalogs = {
        "sales": {
            "connection-user": f"secretsmanager:{SALES_SECRET}#user",
            "connection-password": f"secretsmanager:{SALES_SECRET}#password",
        },
        "tpch": {"connector.name": "tpch"},
    }
    assert catalog_secret_arns(catalogs) == [SALES_SECRET]


def test_user_catalog_named_like_the_metastore_catalog_is_refused() -> None:
    message = only({"metastore": "glue", "catalogs": '{"hive": {"connector.name": "hive"}}'})
    assert "catalog 'hive': the program defines it from metastore 'glue'" in message


@pytest.mark.parametrize("key", ["aws:created-by", "presto-on-aws:cluster", "has space", "a/b"])
def test_tag_key_that_would_break_instances_or_collide_is_refused(key: str) -> None:
    message = only({"tags": f'{{"{key}": "x"}}'})
    assert message.startswith("presto-on-aws:tags:")
    assert repr(key) in message


def test_io2_volume_without_iops_is_refused() -> None:
    assert "rootVolumeType io2 needs provisioned IOPS" in only({"rootVolumeType": "io2"})


def test_gp3_iops_out_of_range_is_refused() -> None:
    assert "out of range for gp3 (allowed: 3000-16000)" in only({"rootVolumeIops": "20000"})


def test_bad_subnet_id_is_refused() -> None:
    message = only({"workerSubnetIds": '["subnet-1", "subnet-0a1b2c3d"]'})
    assert "item 'subnet-1' is not valid" in message


def test_list_given_as_a_string_is_refused() -> None:
    assert "must be a list" in only({"workerSubnetIds": "subnet-0a1b2c3d"})


def test_desired_capacity_outside_min_and_max_is_refused() -> None:
    message = only({"workerMinSize": "2", "workerMaxSize": "4", "workerDesiredCapacity": "9"})
    assert "9 is outside workerMinSize..workerMaxSize (2..4)" in message


def test_non_boolean_flag_is_refused() -> None:
    assert "'yes' is not a boolean (allowed: true, false)" in only({"spillEnabled": "yes"})


def test_every_key_the_parser_reads_is_documented() -> None:
    for key in KNOWN.values():
        assert key.doc and key.allowed and key.example and key.default, key.name


def test_stack_files_parse_and_differ_like_real_stacks() -> None:
    dev, prod = load_stack_settings("dev"), load_stack_settings("prod")
    assert (dev.coordinator.count, prod.coordinator.count) == (1, 2)
    assert dev.workers.max_size < prod.workers.max_size
    assert dev.log_retention_days["server"] < prod.log_retention_days["server"]
    assert (dev.security.tls, prod.security.tls) == (False, True)
    assert prod.security.authentication == "password"


def test_overrides_replace_file_values_and_none_removes_a_key() -> None:
    settings = load_stack_settings(
        "dev", {"workerMaxSize": 7, "elasticsearchUrl": None, "elasticsearchIndexPrefix": None}
    )
    assert settings.workers.max_size == 7
    assert settings.elasticsearch is None


def test_secure_value_in_a_stack_file_reads_as_a_secret(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  presto-on-aws:elasticsearchPassword:\n    secure: v1:abcdef\n  aws:region: eu-west-1\n"
    )
    raw, secret = read_stack_file("s", root=tmp_path)
    assert secret == {"presto-on-aws:elasticsearchPassword"}
    assert raw["presto-on-aws:elasticsearchPassword"] == "[secret]"


def test_missing_stack_file_names_the_stacks_that_exist() -> None:
    with pytest.raises(ConfigError) as caught:
        load_stack_settings("staging")
    assert "no stack file Pulumi.staging.yaml (stacks here: dev, prod)" in str(caught.value)


def test_make_plan_prints_the_problem_list_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = plan.main(["--stack", "dev", "--set", "workerMinSize=9", "--set", "coordinatorCount=3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "2 configuration problem(s)" in err
    assert "presto-on-aws:coordinatorCount" in err
    assert "Traceback" not in err
