"""Stacks AWS would refuse at `pulumi up` (or at every instance launch) are refused by the parse,
naming the key and the limit."""

from __future__ import annotations

import json

import pytest

from components.settings.parse import parse
from components.settings.reader import MAX_CLUSTER_NAME
from tests.unit.stack_config import VALID, only, problems
from tools.plan import command as plan

SECRET = "arn:aws:secretsmanager:{region}:111122223333:secret:trino/cert-Ab12Cd"


def test_cluster_name_longer_than_the_failover_rule_name_allows_is_refused() -> None:
    message = only({"clusterName": "a" * (MAX_CLUSTER_NAME + 1)})
    assert message.startswith("presto-on-aws:clusterName:")
    assert "3-21" in message


def test_longest_accepted_cluster_name_parses() -> None:
    raw = {**VALID, "presto-on-aws:clusterName": "a" * MAX_CLUSTER_NAME}
    assert parse("test", raw).name == "a" * MAX_CLUSTER_NAME


def test_default_cluster_name_of_a_long_stack_name_is_cut_to_the_accepted_length() -> None:
    settings = parse("analytics-production-eu", VALID)
    assert len(settings.name) <= MAX_CLUSTER_NAME
    assert settings.name.startswith("trino-analytics")


def test_more_than_five_alarm_topics_are_refused() -> None:
    topics = [f"arn:aws:sns:eu-west-1:111122223333:t{n}" for n in range(6)]
    message = only({"alarmTopicArns": json.dumps(topics)})
    assert message.startswith("presto-on-aws:alarmTopicArns: 6 topics")
    assert "at most 5" in message and "PutMetricAlarm" in message


def test_five_alarm_topics_are_accepted() -> None:
    topics = [f"arn:aws:sns:eu-west-1:111122223333:t{n}" for n in range(5)]
    raw = {**VALID, "presto-on-aws:alarmTopicArns": json.dumps(topics)}
    assert len(parse("test", raw).monitoring.alarm_topic_arns) == 5


@pytest.mark.parametrize(
    ("kind", "size", "iops", "most"),
    [("gp3", 20, 12000, 10000), ("io1", 100, 6000, 5000), ("io2", 20, 30000, 20000)],
)
def test_iops_above_the_per_gib_ratio_is_refused(kind: str, size: int, iops: int, most: int) -> None:
    message = only({"rootVolumeType": kind, "rootVolumeSizeGb": str(size), "rootVolumeIops": str(iops)})
    assert message.startswith(f"presto-on-aws:rootVolumeIops: {iops} IOPS on a {size} GiB {kind} volume")
    assert f"at most {most}" in message and "rootVolumeSizeGb" in message


def test_iops_within_the_per_gib_ratio_is_accepted() -> None:
    raw = {**VALID, "presto-on-aws:rootVolumeSizeGb": "20", "presto-on-aws:rootVolumeIops": "10000"}
    assert parse("test", raw).volume.iops == 10000


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kmsKeyArn", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        ("elasticsearchPasswordSecretArn", SECRET.format(region="us-east-1")),
    ],
)
def test_arn_in_another_region_than_the_stack_is_refused(key: str, value: str) -> None:
    changes = {key: value}
    if key.startswith("elasticsearch"):
        changes |= {"elasticsearchUrl": "https://es:9200", "elasticsearchUsername": "trino"}
    message = only(changes)
    assert message.startswith(f"presto-on-aws:{key}: ")
    assert "is in us-east-1, but the stack deploys to eu-west-1" in message


def test_catalog_secret_in_another_region_is_refused() -> None:
    catalogs = {
        "pg": {
            "connector.name": "postgresql",
            "connection-password": "secretsmanager:" + SECRET.format(region="us-west-2"),
        }
    }
    message = only({"catalogs": json.dumps(catalogs)})
    assert message.startswith("presto-on-aws:catalogs: ") and "is in us-west-2" in message


def test_tls_certificate_in_another_region_is_refused() -> None:
    found = problems(
        {
            "tls": "true",
            "authentication": "none",
            "tlsCertificateSecretArn": SECRET.format(region="us-east-1"),
        }
    )
    assert any(p.startswith("presto-on-aws:tlsCertificateSecretArn: ") and "us-east-1" in p for p in found)


def test_elasticsearch_ca_bundle_beyond_its_bound_is_refused() -> None:
    bundle = "-----BEGIN CERTIFICATE-----\n" + "A" * 5000 + "\n-----END CERTIFICATE-----\n"
    message = only({"elasticsearchUrl": "https://es:9200", "elasticsearchCaBundle": bundle})
    assert message.startswith("presto-on-aws:elasticsearchCaBundle: is 5055 bytes; at most 4096")


def test_make_plan_names_every_limit_problem_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    topics = json.dumps([f"arn:aws:sns:eu-west-1:111122223333:t{n}" for n in range(6)])
    code = plan.main(
        [
            "--stack",
            "prod",
            "--set",
            "clusterName=trino-analytics-production",
            "--set",
            f"alarmTopicArns={topics}",
            "--set",
            "rootVolumeSizeGb=20",
            "--set",
            "rootVolumeIops=12000",
            "--set",
            "kmsKeyArn=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "--set",
            'catalogs={"c": {"connector.name": "memory", "memory.max-data-per-node": "' + "9" * 9000 + '"}}',
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "5 configuration problem(s)" in err
    for key in ("clusterName", "alarmTopicArns", "rootVolumeIops", "kmsKeyArn", "catalogs"):
        assert f"presto-on-aws:{key}: " in err
    assert "Traceback" not in err
