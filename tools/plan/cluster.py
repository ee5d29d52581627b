"""The first section `make plan` prints: what users change most, read from the declared graph.

The Trino version and catalogs come from the node settings the program stores in SSM (what every
node reads at boot), the region and credentials from the one AWS provider, the AMI from the
lookup the program makes, the sizes from the groups and launch templates, the outputs from the
stack's exports. `--verbose` adds the Trino files each role renders from those node settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from components.lambdas.environment import SCALE_IN_QUERY_SECONDS
from components.settings.render_check import STAND_IN_FACTS, stand_in_secrets
from node_agent.contract import (
    FAST_METRICS_INTERVAL_SECONDS,
    METRICS_INTERVAL_SECONDS,
    Metric,
    NodeSettings,
    Role,
)
from node_agent.render import Layout, render
from tools.plan.mocks import Plan, reveal

# CloudWatch evaluates a standard alarm once a minute (a high-resolution one each period); the
# coordinator's agent publishes every contract.METRICS_INTERVAL_SECONDS (or the fast interval).
ALARM_EVALUATION_SECONDS = 60
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

PROVIDER = "pulumi:providers:aws"
PARAMETER = "aws:ssm/parameter:Parameter"
GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GET_AMI = "aws:ec2/getAmi:getAmi"
# Auto Scaling's own termination policies; anything else first in the list is a Lambda function.
NAMED_TERMINATION_POLICIES = (
    "Default",
    "AllocationStrategy",
    "OldestLaunchTemplate",
    "OldestLaunchConfiguration",
    "ClosestToNextInstanceHour",
    "NewestInstance",
    "OldestInstance",
)
CREDENTIAL_KEYS = ("profile", "assumeRoles", "allowedAccountIds", "sharedConfigFiles", "accessKey")


def node_settings(plan: Plan) -> NodeSettings:
    (parameter,) = [r for r in plan.of_type(PARAMETER) if r.name.endswith("-node-settings")]
    return NodeSettings.from_json(str(reveal(parameter.inputs["value"])))


def cluster_lines(plan: Plan) -> list[str]:
    node = node_settings(plan)
    (provider,) = plan.of_type(PROVIDER)
    lines = [
        f"Trino:        {node.trino_version}",
        f"region:       {provider.inputs.get('region')}{_credentials(provider.inputs)}",
        f"AMI:          {_ami(plan)}",
    ]
    for group in sorted(plan.of_type(GROUP), key=lambda r: r.name):
        lines.append(f"{group.name.rsplit('-', 1)[-1] + ':':13s} {_sizes(plan, group.inputs)}")
    lines.append(f"scale-out:    {scale_out(plan)}")
    lines.append(f"scale-in:     {scale_in(plan)}")
    catalogs = ", ".join(
        f"{name} ({props.get('connector.name')})" for name, props in sorted(node.catalogs.items())
    )
    lines.append(f"catalogs:     {catalogs or 'none'}")
    lines.append("outputs:")
    lines += [f"  {key}: {_output(value)}" for key, value in sorted(plan.outputs.items())]
    return lines


def scale_out(plan: Plan) -> str:
    """Signal -> desired capacity raised, from the queue alarm's periods: the fastest and slowest
    case (a signal just before or just after a period boundary), then what AWS and Trino add."""
    alarms = [
        a
        for a in plan.of_type(ALARM)
        if "adding workers" in str(a.inputs.get("alarmDescription"))
        and a.inputs.get("metricName") == str(Metric.QUEUED_QUERIES)
    ]
    if not alarms:
        return "no step alarms (CPU target tracking only)"
    period, evaluations = int(alarms[0].inputs["period"]), int(alarms[0].inputs["evaluationPeriods"])
    fast = node_settings(plan).fast_queue_metric
    publish = FAST_METRICS_INTERVAL_SECONDS if fast else METRICS_INTERVAL_SECONDS
    evaluated = min(period, ALARM_EVALUATION_SECONDS)  # a high-resolution alarm, each period
    fastest = period * evaluations
    slowest = fastest + period + int(publish) + evaluated
    pools = [g.inputs["warmPool"] for g in plan.of_type(GROUP) if g.inputs.get("warmPool")]
    then = (
        f"then a start of one of {int(pools[0]['minSize'])} stopped warm-pool workers (no launch, no first "
        "boot) and a Trino boot"
        if pools
        else "then an EC2 launch and a Trino boot"
    )
    every = "each minute" if evaluated == ALARM_EVALUATION_SECONDS else f"every {evaluated} s"
    return (
        f"{fastest}-{slowest} s from a queue building up to more workers asked for ({evaluations} x "
        f"{period} s periods above the threshold, published every {publish:g} s, alarms evaluated "
        f"{every}), {then}"
    )


def scale_in(plan: Plan) -> str:
    """Which workers a scale-in takes: the worker group's termination policies, in order."""
    (group,) = [g for g in plan.of_type(GROUP) if g.name.endswith("-workers")]
    policies = [str(reveal(p)) for p in group.inputs.get("terminationPolicies") or []]
    if not policies or policies[0] in NAMED_TERMINATION_POLICIES:
        return f"Auto Scaling's order ({', '.join(policies) or 'Default'})"
    return (
        "the idlest workers first (fewest unfinished Trino tasks, then splits, asked of the "
        "coordinator by the scale-in function); Auto Scaling's default order when Trino does not "
        f"answer within {SCALE_IN_QUERY_SECONDS} s"
    )


def rendered_files(plan: Plan) -> list[str]:
    """Each role's etc/ as the node agent renders it (stand-ins for secrets and the instance)."""
    node = node_settings(plan)
    memory = STAND_IN_FACTS.memory_bytes // 1024**3
    lines = []
    for role in (Role.COORDINATOR, Role.WORKER):
        files = render(node, STAND_IN_FACTS, role, Layout(), stand_in_secrets(node))
        for path, text in sorted(files.items()):
            lines.append(f"--- {role.value}: {path} (a {memory} GiB instance; secrets are stand-ins)")
            lines += text.rstrip("\n").splitlines()
    return lines


def _credentials(inputs: Mapping[str, Any]) -> str:
    given = [key for key in CREDENTIAL_KEYS if inputs.get(key)]
    if not given:
        return " (credentials: the environment's)"
    return f" (credentials: {', '.join(f'aws:{k}' for k in given)})"


def _ami(plan: Plan) -> str:
    call = next((c for c in plan.calls if c.token == GET_AMI), None)
    if call is None:
        return "no lookup"
    filters = {f["name"]: f["values"] for f in call.args.get("filters") or []}
    if "image-id" in filters:
        return f"{filters['image-id'][0]} (amiId)"
    tags = ", ".join(f"{k[4:]}={v[0]}" for k, v in filters.items() if k.startswith("tag:"))
    owners = ", ".join(call.args.get("owners") or [])
    return f"newest image owned by {owners} tagged {tags} (make image builds it)"


def _sizes(plan: Plan, inputs: Mapping[str, Any]) -> str:
    low, high, desired = (int(inputs.get(k) or 0) for k in ("minSize", "maxSize", "desiredCapacity"))
    size = f"{low}..{high} (desired {desired})"
    types, spot = group_instances(plan, inputs)
    if spot is not None:
        return f"{size} of {', '.join(types)}, {spot} % spot above the on-demand base"
    return f"{size} of {types[0] if types else (inputs.get('launchTemplate') or {}).get('id')}"


def group_instances(plan: Plan, inputs: Mapping[str, Any]) -> tuple[list[str], int | None]:
    """The instance types a group launches, and for a mixed-instances group its spot share above
    the on-demand base (None for a group on one launch template's type)."""
    mixed = inputs.get("mixedInstancesPolicy")
    if mixed:
        overrides = mixed.get("launchTemplate", {}).get("overrides") or []
        spot = 100 - int(
            mixed.get("instancesDistribution", {}).get("onDemandPercentageAboveBaseCapacity", 100)
        )
        return [str(o.get("instanceType")) for o in overrides], spot
    templates = [t for t in plan.of_type(TEMPLATE) if t.name.endswith(f"{_role(inputs)}s-template")]
    return ([str(templates[0].inputs.get("instanceType"))] if templates else []), None


def _role(inputs: Mapping[str, Any]) -> str:
    return "coordinator" if str(inputs.get("name", "")).endswith("coordinators") else "worker"


def _output(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
