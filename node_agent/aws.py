"""The few AWS reads and writes the agent makes, each turning AWS's errors into one clear message.

Clients come from boto3's default chain (instance role on a node). AWS_ENDPOINT_URL, which boto3
honours for every service, points them at moto in tests.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric

# Bounded retries: at boot a throttled call is retried, but a missing permission fails fast.
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=10)


class AwsError(Exception):
    """An AWS call the agent depends on failed; the message names the call and the resource."""


def client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, config=_CONFIG)


def get_parameter(name: str, region: str, *, ssm: Any = None) -> str:
    """The (decrypted) value of an SSM parameter."""
    ssm = ssm or client("ssm", region)
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ClientError as exc:
        raise AwsError(f"cannot read SSM parameter {name!r}: {_describe(exc)}") from exc
    except BotoCoreError as exc:
        raise AwsError(f"cannot read SSM parameter {name!r}: {exc}") from exc


def get_secret(arn: str, region: str, *, secretsmanager: Any = None) -> str:
    """The string value of a Secrets Manager secret."""
    secretsmanager = secretsmanager or client("secretsmanager", region)
    try:
        answer = secretsmanager.get_secret_value(SecretId=arn)
    except ClientError as exc:
        raise AwsError(f"cannot read secret {arn!r}: {_describe(exc)}") from exc
    except BotoCoreError as exc:
        raise AwsError(f"cannot read secret {arn!r}: {exc}") from exc
    if "SecretString" not in answer:
        raise AwsError(f"secret {arn!r} has no string value (binary secrets are not supported)")
    return str(answer["SecretString"])


def put_metric(cloudwatch: Any, cluster: str, metric: Metric, value: float, unit: str) -> None:
    cloudwatch.put_metric_data(
        Namespace=CLOUDWATCH_NAMESPACE,
        MetricData=[
            {
                "MetricName": metric.value,
                "Dimensions": [{"Name": DIMENSION_CLUSTER, "Value": cluster}],
                "Value": float(value),
                "Unit": unit,
            }
        ],
    )


def _describe(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"
