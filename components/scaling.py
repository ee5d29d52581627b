"""Worker scaling on Trino's own signals, replacing the original ±1 CPU alarms.

Target tracking keeps the workers' average CPU near the target (AWS has that metric itself and
scales both ways). Queued queries and cluster memory reservation, published by the coordinator's
agent, add workers in steps when they stay high. Every scale-in, whichever policy asks for it,
goes through the worker group's drain hook, so no running query is killed by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.settings.model import ScalingSettings
from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric

SIGNAL_PERIOD_SECONDS = 60
SIGNAL_EVALUATIONS = 2  # two minutes above the threshold before adding workers
# scalingFastQueueMetric: three 10 s periods of the high-resolution queue (CloudWatch takes 10,
# 30 or a multiple of 60 s for a high-resolution alarm; one 10 s period would chase every spike).
FAST_PERIOD_SECONDS = 10
FAST_EVALUATIONS = 3


def step_adjustments(step: int, double_above: float) -> list[aws.autoscaling.PolicyStepAdjustmentArgsDict]:
    """One step just above the alarm threshold, two steps `double_above` further (bounds are
    relative to the threshold); a single open-ended step when there is no room for a second."""
    if double_above <= 0:
        return [{"metric_interval_lower_bound": "0", "scaling_adjustment": step}]
    return [
        {
            "metric_interval_lower_bound": "0",
            "metric_interval_upper_bound": f"{double_above:g}",
            "scaling_adjustment": step,
        },
        {"metric_interval_lower_bound": f"{double_above:g}", "scaling_adjustment": 2 * step},
    ]


@dataclass(frozen=True)
class ScalingPoliciesArgs:
    """The policies follow the `scaling` section alone; the cluster names the metric dimension."""

    cluster: str  # the agent's metrics carry it as their dimension
    tags: Mapping[str, str]
    scaling: ScalingSettings
    worker_group_name: pulumi.Input[str]


class ScalingPolicies(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: ScalingPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ScalingPolicies", name, None, opts)
        scaling = args.scaling
        self._name = name
        self._args = args
        cpu = aws.autoscaling.Policy(
            f"{name}-cpu",
            autoscaling_group_name=args.worker_group_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {"predefined_metric_type": "ASGAverageCPUUtilization"},
                "target_value": float(scaling.cpu_target_percent),
            },
            opts=child(self),
        )
        queued_threshold = float(scaling.queued_queries_threshold)
        # Twice the threshold of queued queries earns a double step.
        queued = self._step_out(
            "queued-queries",
            Metric.QUEUED_QUERIES,
            queued_threshold,
            queued_threshold,
            "Maximum",
            fast=scaling.fast_queue_metric,
        )
        memory_threshold = float(scaling.memory_reserved_percent)
        # Halfway from the threshold to a full cluster earns a double step.
        memory = self._step_out(
            "memory-reserved",
            Metric.CLUSTER_MEMORY_RESERVED_PERCENT,
            memory_threshold,
            (100.0 - memory_threshold) / 2,
            "Maximum",  # not Average: a standby coordinator's zeros would halve it
        )
        self.register_outputs(
            {"cpuPolicy": cpu.name, "queuedPolicy": queued.name, "memoryPolicy": memory.name}
        )

    def _step_out(
        self,
        label: str,
        metric: Metric,
        threshold: float,
        double_above: float,
        statistic: str,
        *,
        fast: bool = False,
    ) -> aws.autoscaling.Policy:
        cluster = self._args.cluster
        step = self._args.scaling.step_workers
        policy = aws.autoscaling.Policy(
            f"{self._name}-{label}",
            autoscaling_group_name=self._args.worker_group_name,
            policy_type="StepScaling",
            adjustment_type="ChangeInCapacity",
            metric_aggregation_type=statistic,
            step_adjustments=step_adjustments(step, double_above),
            opts=child(self),
        )
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-{label}",
            alarm_description=f"{cluster}: {metric.value} above {threshold:g}, adding workers",
            namespace=CLOUDWATCH_NAMESPACE,
            metric_name=metric.value,
            dimensions={DIMENSION_CLUSTER: cluster},
            statistic=statistic,
            period=FAST_PERIOD_SECONDS if fast else SIGNAL_PERIOD_SECONDS,
            evaluation_periods=FAST_EVALUATIONS if fast else SIGNAL_EVALUATIONS,
            threshold=threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[policy.arn],
            tags=tagged(self._args.tags, f"{cluster}-scale-out-{label}"),
            opts=child(self),
        )
        return policy
