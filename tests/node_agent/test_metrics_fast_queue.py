"""With the stack's scalingFastQueueMetric, the coordinator's agent reads Trino every 10 s and
stores QueuedQueries at 1 s resolution: the 10 s alarm sees a value in each of its periods."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import boto3
from moto import mock_aws
from prometheus_client import CollectorRegistry

from node_agent.contract import (
    CLOUDWATCH_NAMESPACE,
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    Metric,
)
from node_agent.metrics.cloudwatch import CloudWatchPublisher, metric_data
from node_agent.metrics.command import fast_queue_metric, read_node
from node_agent.metrics.sources import AgentMetrics, ClusterNumbers, Snapshot
from tests.node_agent.sample_settings import sample_node_settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
NUMBERS = ClusterNumbers(running_queries=3.0, queued_queries=7.0, blocked_queries=0.0, active_workers=4.0)
LABELS = {"cluster": "prod", "role": "coordinator", "node": "i-0abc"}


def resolutions(data: list[dict[str, object]]) -> dict[object, object]:
    return {d["MetricName"]: d.get("StorageResolution", 60) for d in data}


def test_the_queue_alone_is_stored_at_one_second_resolution() -> None:
    found = resolutions(metric_data("prod", NUMBERS, None, NOW, high_resolution_queue=True))
    assert found.pop(Metric.QUEUED_QUERIES) == 1
    assert set(found.values()) == {60}  # the others keep standard resolution (and its price)


def test_without_it_every_datum_is_standard_resolution() -> None:
    assert set(resolutions(metric_data("prod", NUMBERS, None, NOW)).values()) == {60}


@mock_aws
def test_cloudwatch_takes_the_high_resolution_datum() -> None:
    client = boto3.client("cloudwatch", region_name="eu-west-1")
    sent: list[list[dict[str, object]]] = []
    client.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: sent.append(params["MetricData"]),
    )
    publisher = CloudWatchPublisher(
        client, "prod", AgentMetrics(CollectorRegistry(), LABELS), high_resolution_queue=True
    )
    publisher.publish(Snapshot(up=True, taken_at=datetime.now(UTC), cluster=NUMBERS))
    assert resolutions(sent[0])[Metric.QUEUED_QUERIES] == 1
    names = {m["MetricName"] for m in client.list_metrics(Namespace=CLOUDWATCH_NAMESPACE)["Metrics"]}
    assert Metric.QUEUED_QUERIES in names


@mock_aws
def test_the_agent_reads_the_choice_from_the_node_settings(tmp_path: Path) -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    env = tmp_path / "node.env"
    for fast in (True, False):
        settings = dataclasses.replace(sample_node_settings(cluster="prod"), fast_queue_metric=fast)
        ssm.put_parameter(Name="/prod/node", Value=settings.to_json(), Type="SecureString", Overwrite=True)
        env.write_text(
            f"{NODE_ENV_SETTINGS_PARAMETER}=/prod/node\n{NODE_ENV_ROLE}=coordinator\n{NODE_ENV_REGION}=eu-west-1\n"
        )
        node = read_node(argparse.Namespace(env_file=env, role=None, cluster=None, trino_url=None))
        assert node is not None
        assert fast_queue_metric(node[1]) is fast


def test_a_local_run_never_publishes_at_high_resolution() -> None:
    args = argparse.Namespace(env_file=None, role="coordinator", cluster="c", trino_url="http://127.0.0.1:1")
    assert read_node(args) is None  # so main has no settings to take the choice from
    assert fast_queue_metric(None) is False
