"""The coordinator pair: one launch template, an Auto Scaling group of 1 or 2 in the address's
subnet, and the failover function that keeps the fixed address on a healthy coordinator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi_aws.autoscaling import Metric

from components.base import TYPE_PREFIX, child
from components.lambdas.function import ClusterFunction, ClusterFunctionArgs
from components.nodes.launch_template import NodeLaunchTemplateArgs, asg_tags, node_launch_template
from components.rollout import coordinator_instance_refresh, switchover_hook, switchover_hook_name
from components.settings.model import RolloutSettings
from node_agent.contract import Role

# A coordinator needs this long to boot, render its config and pass its ready gate; until then
# neither the Auto Scaling health check nor the failover function judges it.
COORDINATOR_GRACE_SECONDS = 600
# Two: the scheduled run of the next minute starts while a run that follows an open failure
# streak past its window (up to UNRESPONSIVE_SECONDS) is still finishing, instead of queueing
# behind it as a throttled event; moves are guarded by the ENI's attachment id (failover_aws).
FAILOVER_CONCURRENCY = 2
GROUP_EVENTS = ["EC2 Instance Launch Successful", "EC2 Instance Terminate Successful"]
HOOK_EVENT = "EC2 Instance-terminate Lifecycle Action"


def coordinator_asg_name(cluster: str) -> str:
    return f"{cluster}-coordinators"


@dataclass(frozen=True)
class CoordinatorPairArgs:
    """The group and its failover function; of the settings only the group's size, how a new
    template rolls out and where the functions run. What a coordinator boots with is `launch`'s."""

    cluster: str  # the group's, hook's and function's names
    tags: Mapping[str, str]
    count: int  # coordinatorCount: 1, or 2 with a standby
    rollout: RolloutSettings
    launch: NodeLaunchTemplateArgs
    subnet_id: str  # the address's subnet: a coordinator must be there to take the address
    function_subnet_ids: Sequence[str]  # the failover function's (the worker subnets)
    failover_role_arn: pulumi.Input[str]
    failover_log_group: pulumi.Input[str]
    functions_security_group_id: pulumi.Input[str]
    function_environment: Mapping[str, pulumi.Input[str]]
    boot_dependencies: Sequence[pulumi.Resource]
    rollback_alarm_names: Sequence[pulumi.Input[str]] = ()


class CoordinatorPair(pulumi.ComponentResource):
    group: aws.autoscaling.Group
    failover: ClusterFunction

    def __init__(
        self, name: str, args: CoordinatorPairArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "CoordinatorPair", name, None, opts)
        cluster = args.cluster
        template = node_launch_template(f"{name}-template", args.launch, self)
        group_name = coordinator_asg_name(cluster)
        launch: aws.autoscaling.GroupLaunchTemplateArgsDict = {
            "id": template.id,
            "version": template.latest_version.apply(str),
        }
        self.group = aws.autoscaling.Group(
            name,
            name=group_name,
            min_size=args.count,
            max_size=args.count,
            desired_capacity=args.count,
            vpc_zone_identifiers=[args.subnet_id],
            launch_template=launch,
            # EC2 checks only: the failover function marks a coordinator that stops answering
            # unhealthy once the address has moved, so the group replaces it.
            health_check_type="EC2",
            health_check_grace_period=COORDINATOR_GRACE_SECONDS,
            enabled_metrics=[Metric.GROUP_IN_SERVICE_INSTANCES, Metric.GROUP_DESIRED_CAPACITY],
            # A new template version starts a launch-before-terminate refresh; every leaving
            # coordinator waits on the switchover hook, which the failover function completes
            # once the address is on a healthy standby (components/rollout.py). On the group, not a
            # separate LifecycleHook resource, so the first instances are covered too.
            instance_refresh=coordinator_instance_refresh(
                args.rollout, args.count, args.rollback_alarm_names
            ),
            initial_lifecycle_hooks=[switchover_hook(cluster)],
            tags=asg_tags(args.tags, Role.COORDINATOR, group_name),
            # Nodes read their settings and secrets at boot: both must exist before the first one.
            opts=child(self, depends_on=args.boot_dependencies),
        )
        # The same hook as a resource of its own: Auto Scaling applies initial_lifecycle_hooks only
        # when it creates a group, so a stack deployed before rollouts existed gets it from here
        # (PutLifecycleHook creates or updates, so declaring both is safe on a new stack too).
        hook = switchover_hook(cluster)
        aws.autoscaling.LifecycleHook(
            f"{name}-switchover",
            name=hook["name"],
            autoscaling_group_name=self.group.name,
            lifecycle_transition=hook["lifecycle_transition"],
            heartbeat_timeout=hook["heartbeat_timeout"],
            default_result=hook["default_result"],
            opts=child(self),
        )
        self.failover = ClusterFunction(
            f"{name}-failover",
            ClusterFunctionArgs(
                function="failover",
                description=f"Keeps the {cluster} coordinator address on a healthy coordinator",
                role_arn=args.failover_role_arn,
                log_group_name=args.failover_log_group,
                subnet_ids=args.function_subnet_ids,
                security_group_ids=[args.functions_security_group_id],
                environment=args.function_environment,
                # One invocation probes for most of a minute (PROBE_WINDOW_SECONDS, plus an open
                # failure streak's UNRESPONSIVE_SECONDS), then the next scheduled run takes over.
                timeout_seconds=90,
                reserved_concurrency=FAILOVER_CONCURRENCY,
                tags=args.tags,
                # No EC2 state-change rule: EventBridge cannot filter those by tag or group, so it
                # fired for every instance in the region, each event taking a concurrency slot
                # (and with one slot, queueing behind a running watch). The running watch sees a
                # stopping or terminated holder in DescribeInstances within one probe interval.
                event_patterns={
                    # The group's own events can be filtered to it: a coordinator launched (the
                    # first one, or a replacement) or gone.
                    "group-change": {
                        "source": ["aws.autoscaling"],
                        "detail-type": GROUP_EVENTS,
                        "detail": {"AutoScalingGroupName": [group_name]},
                    },
                    # A coordinator held by the switchover hook: act at once, not at the next minute.
                    "switchover": {
                        "source": ["aws.autoscaling"],
                        "detail-type": [HOOK_EVENT],
                        "detail": {
                            "AutoScalingGroupName": [group_name],
                            "LifecycleHookName": [switchover_hook_name(cluster)],
                        },
                    },
                },
            ),
            # It looks the group up by name on every run; before the group exists it could only fail.
            opts=child(self, depends_on=[self.group]),
        )
        self.register_outputs({"groupName": self.group.name, "failoverFunction": self.failover.function.name})
