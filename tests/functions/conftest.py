"""Fixtures for the Lambda functions' tests: moto for every AWS call, a clock that jumps.

Each function's modules sit at the root of its Lambda zip and import each other by bare name,
so their folders go on sys.path here exactly as the zip's root is on Lambda's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
for _name in ("failover", "worker_health"):
    _folder = str(ROOT / "functions" / _name)
    if _folder not in sys.path:
        sys.path.insert(0, _folder)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from moto_cluster import AwsClients

    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield AwsClients(
            ec2=boto3.client("ec2"),
            autoscaling=boto3.client("autoscaling"),
            cloudwatch=boto3.client("cloudwatch"),
            secretsmanager=boto3.client("secretsmanager"),
        )
