"""The cluster's CloudWatch dashboard and its alarms, on the metrics named in the contract."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.settings.model import MonitoringSettings
from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric

ALARM_PERIOD_SECONDS = 300


def dashboard_url(region: str, dashboard: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={dashboard}"
    )


def _cluster_metric(cluster: str, metric: Metric, stat: str, label: str | None = None) -> list[Any]:
    return [
        CLOUDWATCH_NAMESPACE,
        metric.value,
        DIMENSION_CLUSTER,
        cluster,
        {"stat": stat, "label": label or metric.value},
    ]


def _widget(title: str, metrics: list[list[Any]], region: str, x: int, y: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "metrics": metrics,
            "region": region,
            "period": 60,
            "view": "timeSeries",
        },
    }


def dashboard_body(cluster: str, region: str, worker_group: str, coordinator_group: str) -> str:
    """Queries, workers, CPU, memory, drains and the reconcilers' actions, two widgets a row.

    The coordinator's gauges are shown as Maximum and its per-interval counts as Sum: if the
    standby coordinator ever publishes too (during a failover), its zeros land in the same metric,
    and an Average or Minimum would show half the queue or no workers at all.
    """
    m = _cluster_metric
    panels = [
        (
            "Queries running / queued / blocked",
            [
                m(cluster, Metric.RUNNING_QUERIES, "Maximum"),
                m(cluster, Metric.QUEUED_QUERIES, "Maximum"),
                m(cluster, Metric.BLOCKED_QUERIES, "Maximum"),
            ],
        ),
        (
            "Queries completed / failed per minute",
            [m(cluster, Metric.COMPLETED_QUERIES, "Sum"), m(cluster, Metric.FAILED_QUERIES, "Sum")],
        ),
        (
            "Workers: active in Trino vs in service",
            [
                m(cluster, Metric.ACTIVE_WORKERS, "Maximum"),
                ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", worker_group],
                ["AWS/AutoScaling", "GroupDesiredCapacity", "AutoScalingGroupName", worker_group],
                ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", coordinator_group],
            ],
        ),
        (
            "CPU",
            [
                m(cluster, Metric.CLUSTER_CPU_PERCENT, "Maximum"),
                ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", worker_group, {"stat": "Average"}],
            ],
        ),
        ("Cluster memory reserved %", [m(cluster, Metric.CLUSTER_MEMORY_RESERVED_PERCENT, "Maximum")]),
        (
            "Worker drain seconds",
            [
                m(cluster, Metric.WORKER_DRAIN_SECONDS, "Average", "average drain"),
                m(cluster, Metric.WORKER_DRAIN_SECONDS, "Maximum", "longest drain"),
                m(cluster, Metric.SHUTDOWN_REFUSED, "Sum", "shutdown requests refused"),
            ],
        ),
        (
            "Failovers, workers replaced, rollout switchovers not clean",
            [
                m(cluster, Metric.COORDINATOR_FAILOVERS, "Sum"),
                m(cluster, Metric.WORKERS_MARKED_UNHEALTHY, "Sum"),
                m(cluster, Metric.SYSTEMIC_WORKER_FAULT, "Maximum"),
                m(cluster, Metric.SWITCHOVERS_NOT_QUIET, "Sum"),
                m(cluster, Metric.SWITCHOVERS_WITHOUT_STANDBY, "Sum"),
            ],
        ),
    ]
    widgets = [
        _widget(title, metrics, region, 12 * (i % 2), 6 * (i // 2))
        for i, (title, metrics) in enumerate(panels)
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


@dataclass(frozen=True)
class ClusterMonitoringArgs:
    """The dashboard and alarms read the cluster's metrics in its region; the `monitoring`
    section sets where alarms go and the failed-queries threshold."""

    cluster: str  # the dashboard's name and the metric dimension
    region: str  # the dashboard's widgets and its console URL
    tags: Mapping[str, str]
    monitoring: MonitoringSettings
    worker_group_name: str
    coordinator_group_name: str


class ClusterMonitoring(pulumi.ComponentResource):
    dashboard_url: str
    alarms: dict[str, aws.cloudwatch.MetricAlarm]  # by label; rollouts roll back on some of them

    def __init__(
        self, name: str, args: ClusterMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterMonitoring", name, None, opts)
        cluster = args.cluster
        self._name = name
        self._args = args
        self.alarms = {}
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=cluster,
            dashboard_body=dashboard_body(
                cluster, args.region, args.worker_group_name, args.coordinator_group_name
            ),
            opts=child(self),
        )
        self.dashboard_url = dashboard_url(args.region, cluster)
        # The coordinator's agent publishes every minute; silence means no coordinator is serving.
        self._alarm(
            "no-coordinator",
            "no coordinator is publishing cluster metrics (none running, or none healthy)",
            Metric.ACTIVE_WORKERS,
            statistic="SampleCount",
            comparison="LessThanThreshold",
            threshold=1,
            periods=3,
            period=60,
            missing="breaching",
        )
        self._alarm(
            "failover",
            "the coordinator address moved to the standby coordinator",
            Metric.COORDINATOR_FAILOVERS,
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
        )
        self._alarm(
            "failed-queries",
            f"more than {args.monitoring.failed_queries_threshold} queries failed in 5 minutes",
            Metric.FAILED_QUERIES,
            statistic="Sum",
            comparison="GreaterThanThreshold",
            threshold=args.monitoring.failed_queries_threshold,
        )
        self._alarm(
            "systemic-worker-fault",
            "more workers fail their health check at once than may be replaced; none is replaced",
            Metric.SYSTEMIC_WORKER_FAULT,
            statistic="Maximum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
        )
        self._alarm(
            "shutdown-refused",
            "a draining worker's Trino refuses the agent's shutdown request (401/403)",
            Metric.SHUTDOWN_REFUSED,
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
        )
        self.register_outputs({"dashboardName": dashboard.dashboard_name, "dashboardUrl": self.dashboard_url})

    def _alarm(
        self,
        label: str,
        meaning: str,
        metric: Metric,
        *,
        statistic: str,
        comparison: str,
        threshold: float,
        periods: int = 1,
        period: int = ALARM_PERIOD_SECONDS,
        missing: str = "notBreaching",
    ) -> aws.cloudwatch.MetricAlarm:
        cluster = self._args.cluster
        topics = list(self._args.monitoring.alarm_topic_arns)
        alarm = self.alarms[label] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{label}",
            alarm_description=f"{cluster}: {meaning}",
            namespace=CLOUDWATCH_NAMESPACE,
            metric_name=metric.value,
            dimensions={DIMENSION_CLUSTER: cluster},
            statistic=statistic,
            period=period,
            evaluation_periods=periods,
            threshold=float(threshold),
            comparison_operator=comparison,
            treat_missing_data=missing,
            alarm_actions=topics,
            ok_actions=topics,
            tags=tagged(self._args.tags, f"{cluster}-{label}"),
            opts=child(self),
        )
        return alarm
