"""A cloud-side reconciler: one Lambda function, its triggers and the permissions to invoke it.

Used three times: the failover function (under CoordinatorPair), the worker-health and the
scale-in function (under WorkerFleet). All run inside the VPC because they ask Trino on private
addresses, with a small reserved concurrency (one for worker health; two for failover, whose
address moves are guarded by the attachment id, so a run that outlives its minute never makes the
next one wait; two for scale-in, which changes nothing itself), and without EventBridge retries
(the next scheduled run looks again with fresh eyes). Scale-in has no schedule: Auto Scaling
invokes it directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.lambdas.packaging import function_archive
from node_agent.contract import FUNCTION_HANDLER

RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
SCHEDULE = "rate(1 minute)"  # EventBridge's shortest schedule


@dataclass(frozen=True)
class ClusterFunctionArgs:
    function: str  # folder under functions/
    description: str
    role_arn: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[pulumi.Input[str]]
    environment: Mapping[str, pulumi.Input[str]]
    timeout_seconds: int
    tags: Mapping[str, str]
    event_patterns: Mapping[str, dict] = field(default_factory=dict)  # label -> EventBridge pattern
    memory_mb: int = 256
    reserved_concurrency: int = 1
    scheduled: bool = True  # every minute; False: invoked only by its events or by AWS directly


class ClusterFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function

    def __init__(
        self, name: str, args: ClusterFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterFunction", name, None, opts)
        self.function = aws.lambda_.Function(
            name,
            description=args.description,
            role=args.role_arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=FUNCTION_HANDLER,
            code=function_archive(args.function),
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment={"variables": dict(args.environment)},
            vpc_config={
                "subnet_ids": list(args.subnet_ids),
                "security_group_ids": list(args.security_group_ids),
            },
            logging_config={"log_format": "Text", "log_group": args.log_group_name},
            tags=tagged(args.tags, name),
            opts=child(self),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-no-retries",
            function_name=self.function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=60,
            opts=child(self),
        )
        if args.scheduled:
            self._trigger(f"{name}-schedule", args, schedule_expression=SCHEDULE)
        for label, pattern in args.event_patterns.items():
            self._trigger(f"{name}-{label}", args, event_pattern=json.dumps(pattern, sort_keys=True))
        self.register_outputs({"functionName": self.function.name, "functionArn": self.function.arn})

    def _trigger(
        self,
        label: str,
        args: ClusterFunctionArgs,
        *,
        schedule_expression: str | None = None,
        event_pattern: str | None = None,
    ) -> None:
        rule = aws.cloudwatch.EventRule(
            label,
            description=f"Runs {args.function}: {schedule_expression or 'on matching events'}",
            schedule_expression=schedule_expression,
            event_pattern=event_pattern,
            tags=tagged(args.tags, label),
            opts=child(self),
        )
        permission = aws.lambda_.Permission(
            label,
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child(self),
        )
        # The target is added after the permission: EventBridge would otherwise fire into a
        # function it may not invoke yet, and drop those events.
        aws.cloudwatch.EventTarget(
            label,
            rule=rule.name,
            arn=self.function.arn,
            opts=child(self, depends_on=[permission]),
        )
