"""The AWS clients and the few AWS reads and writes the agent and the functions make, each turning
AWS's errors into one clear message.

Clients come from boto3's default chain (instance role on a node, execution role in Lambda).
AWS_ENDPOINT_URL, which boto3 honours for every service, points them at moto in tests. The Lambda
packager ships this module in each function's zip (it follows the functions' imports), so it uses
only boto3/botocore and the contract.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric

# Bounded retries: at boot a throttled call is retried, but a missing permission fails fast.
AGENT_MAX_ATTEMPTS = 5


class AwsError(Exception):
    """An AWS call the agent depends on failed; the message names the call and the resource."""


def client(
    service: str,
    region: str | None = None,
    *,
    endpoint_url: str | None = None,
    max_attempts: int = AGENT_MAX_ATTEMPTS,
) -> Any:
    """A boto3 client whose retries are bounded (botocore's standard mode: backoff on throttling,
    none on a denied call) and whose connect and read timeouts are short, so no AWS call hangs a
    boot, an agent loop or an invocation. `region` None: the default chain's (AWS_REGION in
    Lambda); `endpoint_url`: a test endpoint for this one client."""
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"}, connect_timeout=5, read_timeout=10
    )
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=config)


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


def put_metric(cloudwatch: Any, cluster: str, metric: Metric, value: float, unit: str = "Count") -> None:
    """One datum in the namespace and with the dimension the alarms and scaling policies watch."""
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
