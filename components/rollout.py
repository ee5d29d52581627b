"""How a new launch template version reaches the running nodes, and the worker group's schedules.

Workers: an instance refresh on the worker group, started by Auto Scaling whenever `pulumi up`
changes the group's launch template version (the provider always starts one on a launch template
or mixed-instances change; `triggers` adds nothing else, so tags or sizes never roll nodes). It
replaces batches of workers while `rolloutMinHealthyPercent` stay in service, and every
termination waits on the drain hook, so each replaced worker finishes its queries first. Skip
matching leaves workers already on the new version alone (a refresh restarted after a rollback or
a cancelled one does not replace them twice). The rollback alarms mean "the new nodes are bad":
workers in service that never join Trino, and failed queries rising.

Coordinators: launch before terminate (minimum healthy 100 %, maximum 150 % of two, 200 % of one),
so a new coordinator exists before an old one leaves, and a termination hook holds the leaving
one until the failover function has moved the address to a healthy standby on the new template at
a moment with no running query (functions/failover/switchover.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.nodes.parameter import settings_parameter_name
from components.settings.model import ClusterSettings, RolloutSettings, WorkerSchedule
from node_agent.contract import CLOUDWATCH_NAMESPACE, DIMENSION_CLUSTER, Metric

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
# The failover function runs every minute and records a heartbeat on each run, so a hook it holds
# never times out while it is alive; if it is dead, the holder is let go after this long.
SWITCHOVER_HEARTBEAT_SECONDS = 300
# A hook holds an instance for at most 100 heartbeats: 8 h 20 min here, more than the longest
# standby wait plus quiet wait the settings allow (420 min + 60 min).
SWITCHOVER_MAX_HOLD_SECONDS = 100 * SWITCHOVER_HEARTBEAT_SECONDS
WORKER_MAX_HEALTHY_PERCENT = 100  # replace, then launch: a worker batch drains before it goes


def switchover_hook_name(cluster: str) -> str:
    return f"{cluster}-switchover"


def workers_not_joining_alarm_name(cluster: str) -> str:
    return f"{cluster}-workers-not-joining"


def coordinator_max_healthy_percent(count: int) -> int:
    """One extra coordinator during a refresh: 150 % of two, 200 % of one."""
    return 100 * (count + 1) // count


def _preferences(
    *,
    min_healthy: int,
    max_healthy: int,
    warmup: int,
    alarm_names: Sequence[pulumi.Input[str]],
    auto_rollback: bool,
) -> aws.autoscaling.GroupInstanceRefreshPreferencesArgsDict:
    return {
        "min_healthy_percentage": min_healthy,
        "max_healthy_percentage": max_healthy,
        "instance_warmup": str(warmup),
        "skip_matching": True,
        "auto_rollback": auto_rollback,
        "alarm_specification": {"alarms": list(alarm_names)},
    }


def worker_instance_refresh(
    r: RolloutSettings, alarm_names: Sequence[pulumi.Input[str]]
) -> aws.autoscaling.GroupInstanceRefreshArgsDict:
    preferences = _preferences(
        min_healthy=r.min_healthy_percent,
        max_healthy=WORKER_MAX_HEALTHY_PERCENT,
        warmup=r.instance_warmup_seconds,
        alarm_names=alarm_names,
        auto_rollback=r.auto_rollback,
    )
    if r.checkpoint_percentages:
        preferences["checkpoint_percentages"] = list(r.checkpoint_percentages)
        preferences["checkpoint_delay"] = str(r.checkpoint_delay_seconds)
    return {"strategy": "Rolling", "preferences": preferences}


def coordinator_instance_refresh(
    r: RolloutSettings, count: int, alarm_names: Sequence[pulumi.Input[str]]
) -> aws.autoscaling.GroupInstanceRefreshArgsDict:
    """`count` coordinators: the refresh may run one more than that (launch before terminate)."""
    return {
        "strategy": "Rolling",
        "preferences": _preferences(
            min_healthy=100,
            max_healthy=coordinator_max_healthy_percent(count),
            warmup=r.instance_warmup_seconds,
            alarm_names=alarm_names,
            auto_rollback=r.auto_rollback,
        ),
    }


def switchover_hook(cluster: str) -> aws.autoscaling.GroupInitialLifecycleHookArgsDict:
    """Held by the failover function; CONTINUE when it is dead, so a termination never hangs."""
    return {
        "name": switchover_hook_name(cluster),
        "lifecycle_transition": TERMINATING,
        "heartbeat_timeout": SWITCHOVER_HEARTBEAT_SECONDS,
        "default_result": "CONTINUE",
    }


def not_joining_periods(worker_grace_seconds: int) -> int:
    """Minutes a worker may be in service but not in Trino before the alarm: its boot grace."""
    return max(3, math.ceil(worker_grace_seconds / 60))


@dataclass(frozen=True)
class RolloutAlarmsArgs:
    """One alarm: its length is the workers' boot grace, its actions the cluster's alarm topics."""

    cluster: str  # the alarm's name and the metric dimension
    tags: Mapping[str, str]
    alarm_topic_arns: Sequence[str]
    worker_grace_seconds: int  # healthWorkerGraceSeconds: how long a new worker may take to join
    worker_group_name: str


class RolloutAlarms(pulumi.ComponentResource):
    """The alarm that only rollouts need: workers in service that Trino does not count as active."""

    workers_not_joining: aws.cloudwatch.MetricAlarm

    def __init__(
        self, name: str, args: RolloutAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "RolloutAlarms", name, None, opts)
        cluster = args.cluster
        topics = list(args.alarm_topic_arns)
        alarm_name = workers_not_joining_alarm_name(cluster)
        periods = not_joining_periods(args.worker_grace_seconds)
        self.workers_not_joining = aws.cloudwatch.MetricAlarm(
            f"{name}-workers-not-joining",
            name=alarm_name,
            alarm_description=(
                f"{cluster}: for {periods} minutes more workers were in service than Trino counted as "
                "active (new workers not joining); rolls back a worker refresh"
            ),
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1.0,
            evaluation_periods=periods,
            # No coordinator metrics (the coordinator is down) is the no-coordinator alarm's job.
            treat_missing_data="notBreaching",
            metric_queries=[
                {
                    "id": "inservice",
                    "metric": {
                        "namespace": "AWS/AutoScaling",
                        "metric_name": "GroupInServiceInstances",
                        "dimensions": {"AutoScalingGroupName": args.worker_group_name},
                        "period": 60,
                        "stat": "Minimum",
                    },
                },
                {
                    "id": "active",
                    "metric": {
                        "namespace": CLOUDWATCH_NAMESPACE,
                        "metric_name": Metric.ACTIVE_WORKERS.value,
                        "dimensions": {DIMENSION_CLUSTER: cluster},
                        "period": 60,
                        "stat": "Maximum",
                    },
                },
                {
                    "id": "missing",
                    "expression": "inservice - active",
                    "label": "workers in service but not active in Trino",
                    "return_data": True,
                },
            ],
            alarm_actions=topics,
            ok_actions=topics,
            tags=tagged(args.tags, alarm_name),
            opts=child(self),
        )
        self.register_outputs({"workersNotJoining": self.workers_not_joining.name})


@dataclass(frozen=True)
class WorkerSchedulesArgs:
    """The `workerSchedules` entries, each an action named after the cluster."""

    cluster: str
    schedules: Sequence[WorkerSchedule]
    worker_group_name: pulumi.Input[str]


class WorkerSchedules(pulumi.ComponentResource):
    """One scheduled action per `workerSchedules` entry; a scheduled scale-in drains like any other."""

    actions: list[aws.autoscaling.Schedule]

    def __init__(
        self, name: str, args: WorkerSchedulesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "WorkerSchedules", name, None, opts)
        self.actions = [
            aws.autoscaling.Schedule(
                f"{name}-{schedule.name}",
                scheduled_action_name=f"{args.cluster}-{schedule.name}",
                autoscaling_group_name=args.worker_group_name,
                recurrence=schedule.recurrence,
                time_zone=schedule.time_zone,
                # -1 tells Auto Scaling to leave that bound as it is.
                min_size=-1 if schedule.min_size is None else schedule.min_size,
                max_size=-1 if schedule.max_size is None else schedule.max_size,
                desired_capacity=-1 if schedule.desired_capacity is None else schedule.desired_capacity,
                opts=child(self),
            )
            for schedule in args.schedules
        ]
        self.register_outputs({"scheduledActions": [a.scheduled_action_name for a in self.actions]})


def rollout_summary(settings: ClusterSettings) -> list[str]:
    """What `make plan` prints about rollouts: what rolls, in what batches, and what stops it."""
    r = settings.rollout
    count = settings.coordinator.count
    not_joining = not_joining_periods(settings.health.worker_grace_seconds)
    checkpoints = (
        f"pause {r.checkpoint_delay_seconds} s at {', '.join(f'{p} %' for p in r.checkpoint_percentages)}"
        if r.checkpoint_percentages
        else "no checkpoints"
    )
    rollback = "auto-rollback" if r.auto_rollback else "stop (no auto-rollback)"
    lines = [
        "what rolls: a new launch template version (AMI, instance types, user data, node settings "
        "JSON, versions of the secrets a node reads); a pulumi up with none of these changed rolls nothing",
        f"trinoVersion {settings.trino.version}, environment {settings.environment}: a pulumi up (or "
        "preview) on a cluster deployed with another one stops before any change (old and new nodes "
        "could not share the cluster; the deployed ones are read from "
        f"{settings_parameter_name(settings.name)})",
        f"workers: instance refresh, {r.min_healthy_percent} % kept in service "
        f"(batches of up to {100 - r.min_healthy_percent} %, at least one worker), warmup "
        f"{r.instance_warmup_seconds} s, skip matching, {checkpoints}; each termination drains",
        f"coordinators ({count}): launch before terminate (min 100 %, max "
        f"{coordinator_max_healthy_percent(count)} %); hook {switchover_hook_name(settings.name)} keeps the "
        f"address on the leaving holder up to {r.standby_wait_minutes} min for a healthy standby, "
        f"then moves it when no query runs (waits up to {r.quiet_wait_seconds} s, then moves anyway)",
        f"rollback alarms ({rollback}): workers {workers_not_joining_alarm_name(settings.name)} "
        f"({not_joining} min), failed-queries; coordinators no-coordinator, failed-queries",
    ]
    for schedule in r.worker_schedules:
        sizes = ", ".join(
            f"{label} {value}"
            for label, value in (
                ("min", schedule.min_size),
                ("max", schedule.max_size),
                ("desired", schedule.desired_capacity),
            )
            if value is not None
        )
        lines.append(f"schedule {schedule.name}: '{schedule.recurrence}' {schedule.time_zone}: {sizes}")
    return lines
