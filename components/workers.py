"""The worker fleet: launch template, an Auto Scaling group whose every termination waits on the
drain lifecycle hook and whose scale-ins take the idlest workers (the scale-in function), optional
spot capacity with rebalancing, and the worker-health function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws.autoscaling import Metric

from components.base import TYPE_PREFIX, child
from components.lambdas.function import ClusterFunction, ClusterFunctionArgs
from components.nodes.launch_template import NodeLaunchTemplateArgs, asg_tags, node_launch_template
from components.rollout import worker_instance_refresh
from components.settings.model import ClusterSettings
from node_agent.contract import Role

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
SPOT_ALLOCATION = "price-capacity-optimized"  # fewest interruptions for the price


def worker_asg_name(cluster: str) -> str:
    return f"{cluster}-workers"


def drain_hook_name(cluster: str) -> str:
    return f"{cluster}-drain"


@dataclass(frozen=True)
class WorkerFleetArgs:
    settings: ClusterSettings
    launch: NodeLaunchTemplateArgs
    health_role_arn: pulumi.Input[str]
    health_log_group: pulumi.Input[str]
    functions_security_group_id: pulumi.Input[str]
    function_environment: Mapping[str, pulumi.Input[str]]
    scale_in_role_arn: pulumi.Input[str]
    scale_in_log_group: pulumi.Input[str]
    scale_in_environment: Mapping[str, pulumi.Input[str]]
    autoscaling_role_arn: pulumi.Input[str]  # the service-linked role Auto Scaling invokes functions as
    boot_dependencies: Sequence[pulumi.Resource]
    rollback_alarm_names: Sequence[pulumi.Input[str]] = ()


class WorkerFleet(pulumi.ComponentResource):
    group: aws.autoscaling.Group
    health: ClusterFunction
    scale_in: ClusterFunction

    def __init__(self, name: str, args: WorkerFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_PREFIX + "WorkerFleet", name, None, opts)
        s = args.settings
        w = s.workers
        template = node_launch_template(f"{name}-template", args.launch, self)
        version = template.latest_version.apply(str)
        mixed: aws.autoscaling.GroupMixedInstancesPolicyArgsDict | None = None
        single: aws.autoscaling.GroupLaunchTemplateArgsDict | None = None
        if w.mixed:
            mixed = {
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": template.id, "version": version},
                    "overrides": [{"instance_type": t} for t in w.instance_types],
                },
                "instances_distribution": {
                    "on_demand_base_capacity": w.on_demand_base_capacity,
                    "on_demand_percentage_above_base_capacity": 100 - w.spot_percentage,
                    "spot_allocation_strategy": SPOT_ALLOCATION,
                },
            }
        else:
            single = {"id": template.id, "version": version}
        group_name = worker_asg_name(s.name)
        self.scale_in, may_invoke = self._scale_in(name, args)
        self.group = aws.autoscaling.Group(
            name,
            name=group_name,
            min_size=w.min_size,
            max_size=w.max_size,
            desired_capacity=w.desired_capacity,
            vpc_zone_identifiers=list(s.network.worker_subnet_ids),
            mixed_instances_policy=mixed,
            launch_template=single,
            # Spot: start a replacement on a rebalance recommendation, before the 2-minute notice.
            capacity_rebalance=w.spot_percentage > 0,
            health_check_type="EC2",
            health_check_grace_period=s.health.worker_grace_seconds,
            default_instance_warmup=s.scaling.warmup_seconds,
            # Declared on the group, not as a separate LifecycleHook resource, so the very first
            # instances are already covered: every termination waits for the worker to drain.
            initial_lifecycle_hooks=[
                {
                    "name": drain_hook_name(s.name),
                    "lifecycle_transition": TERMINATING,
                    "heartbeat_timeout": s.lifecycle.heartbeat_timeout_seconds,
                    "default_result": "CONTINUE",
                }
            ],
            warm_pool=_warm_pool(w.warm_pool),
            # The function first (Auto Scaling requires it there), then the default policy, which
            # orders whatever the function leaves to Auto Scaling.
            termination_policies=[self.scale_in.function.arn, "Default"],
            enabled_metrics=[
                Metric.GROUP_IN_SERVICE_INSTANCES,
                Metric.GROUP_DESIRED_CAPACITY,
                Metric.GROUP_TERMINATING_INSTANCES,
            ],
            # A new template version (anything a worker reads at boot changed) starts a rolling
            # refresh; each replaced worker drains through the hook above (components/rollout.py).
            instance_refresh=worker_instance_refresh(s.rollout, args.rollback_alarm_names),
            tags=asg_tags(s.tags, Role.WORKER, group_name),
            # desiredCapacity belongs to the scaling policies after creation: an update must not
            # reset it (and terminate workers) to the configured starting size.
            # The first scale-in may come right after creation: the function must be invocable by then.
            opts=child(
                self, depends_on=[*args.boot_dependencies, may_invoke], ignore_changes=["desiredCapacity"]
            ),
        )
        self.health = ClusterFunction(
            f"{name}-health",
            ClusterFunctionArgs(
                function="worker_health",
                description=f"Replaces {s.name} workers that run but are not active Trino nodes",
                role_arn=args.health_role_arn,
                log_group_name=args.health_log_group,
                subnet_ids=s.network.worker_subnet_ids,
                security_group_ids=[args.functions_security_group_id],
                environment=args.function_environment,
                timeout_seconds=60,
                tags=s.tags,
            ),
            # It looks the group up by name on every run; before the group exists it could only fail.
            opts=child(self, depends_on=[self.group]),
        )
        self.register_outputs(
            {
                "groupName": self.group.name,
                "healthFunction": self.health.function.name,
                "scaleInFunction": self.scale_in.function.name,
            }
        )

    def _scale_in(self, name: str, args: WorkerFleetArgs) -> tuple[ClusterFunction, aws.lambda_.Permission]:
        """The group's custom termination policy, and Auto Scaling's leave to invoke it."""
        s = args.settings
        function = ClusterFunction(
            f"{name}-scale-in",
            ClusterFunctionArgs(
                function="scale_in",
                description=f"Picks the idlest {s.name} workers when the group scales in",
                role_arn=args.scale_in_role_arn,
                log_group_name=args.scale_in_log_group,
                subnet_ids=s.network.worker_subnet_ids,
                security_group_ids=[args.functions_security_group_id],
                environment=args.scale_in_environment,
                timeout_seconds=10,
                tags=s.tags,
                reserved_concurrency=2,
                scheduled=False,
            ),
            opts=child(self),
        )
        permission = aws.lambda_.Permission(
            f"{name}-scale-in",
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal=args.autoscaling_role_arn,
            opts=child(self),
        )
        return function, permission


def _warm_pool(size: int) -> aws.autoscaling.GroupWarmPoolArgsDict | None:
    """`size` stopped workers beside the group: a scale-out starts one instead of launching one.

    Prepared capacity equals the minimum, so the pool stays at `size` whatever the group's size
    (by default AWS would keep max - desired instances, up to 999 volumes at 1,000 workers).
    Stopped: a warmed worker costs only its volume, and its boot out of the pool starts Trino
    through the units like any boot (a running pool would need the agent to start Trino on the
    move). No reuse on scale-in: a drained worker keeps its drain record, which rightly stops
    trino.service for good, so a returned worker would never serve again.
    """
    if size == 0:
        return None
    return {"pool_state": "Stopped", "min_size": size, "max_group_prepared_capacity": size}
