"""Fixtures for the Lambda functions' tests: moto for every AWS call, a clock that jumps.

The functions import each other's modules as `functions.<function>.<module>`, from the same import
root as their zip's (components/lambdas/packaging.py), so nothing here touches sys.path.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from tests.functions.moto_cluster import AwsClients

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
