"""What `make plan` prints for a recorded Plan: what users change most (tools/plan/cluster.py),
the component tree, a count by type, the security posture and the rollout, each read from the
declared graph rather than from the settings, so the printout says what would really be created.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.rollout import rollout_summary
from components.settings.keys import PROJECT
from components.settings.model import ElasticsearchConfig
from node_agent.contract import SIGV4_SERVICES, STORE_AWS_SERVERLESS
from tools.plan.aws_check.table import requests_of
from tools.plan.cluster import cluster_lines, rendered_files
from tools.plan.commitment import commitment_lines
from tools.plan.mocks import Plan, Recorded, SecretInput, reveal


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)] if part.isdigit() and int(part) < len(value) else None
        elif isinstance(value, Mapping):
            value = value.get(part)
        else:
            return None
    return value


KEY_PROPERTIES: dict[str, Sequence[str]] = {
    "aws:ec2/launchTemplate:LaunchTemplate": (
        "instanceType",
        "metadataOptions.httpTokens",
        "metadataOptions.httpPutResponseHopLimit",
        "blockDeviceMappings.0.ebs.volumeType",
        "blockDeviceMappings.0.ebs.volumeSize",
        "blockDeviceMappings.0.ebs.encrypted",
        "networkInterfaces.0.associatePublicIpAddress",
    ),
    "aws:autoscaling/group:Group": (
        "name",
        "minSize",
        "maxSize",
        "desiredCapacity",
        "capacityRebalance",
        "healthCheckGracePeriod",
        "initialLifecycleHooks.0.heartbeatTimeout",
        "initialLifecycleHooks.0.defaultResult",
        "mixedInstancesPolicy.instancesDistribution.onDemandBaseCapacity",
        "mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity",
        "warmPool.poolState",
        "warmPool.minSize",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("fromPort", "cidrIpv4", "description"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ipProtocol", "fromPort", "cidrIpv4"),
    "aws:ec2/networkInterface:NetworkInterface": ("subnetId", "privateIps"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:lambda/function:Function": ("runtime", "handler", "timeout", "reservedConcurrentExecutions"),
    "aws:cloudwatch/eventRule:EventRule": ("scheduleExpression",),
    "aws:autoscaling/policy:Policy": (
        "policyType",
        "targetTrackingConfiguration.targetValue",
        "stepAdjustments.0.scalingAdjustment",
        "stepAdjustments.1.scalingAdjustment",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("metricName", "statistic", "comparisonOperator", "threshold"),
    "aws:ssm/parameter:Parameter": ("name", "type", "tier"),
    "aws:secretsmanager/secret:Secret": ("namePrefix",),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
}


def _describe(resource: Recorded) -> str:
    parts = []
    for path in KEY_PROPERTIES.get(resource.type, ()):
        value = _get(resource.inputs, path)
        if value is not None and value != "":
            parts.append(f"{path.split('.')[-1]}={_short(value)}")
    if resource.type == "aws:cloudwatch/eventRule:EventRule" and resource.inputs.get("eventPattern"):
        parts.append(
            "pattern=" + ",".join(json.loads(resource.inputs["eventPattern"]).get("detail-type", []))
        )
    if resource.type == "aws:iam/rolePolicy:RolePolicy" and isinstance(resource.inputs.get("policy"), str):
        statements = json.loads(resource.inputs["policy"])["Statement"]
        parts.append(f"statements={len(statements)} actions={sum(len(s['Action']) for s in statements)}")
    if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
        parts.append(f"role={_tag(resource, 'presto-on-aws:role')}")
    overrides = _get(resource.inputs, "mixedInstancesPolicy.launchTemplate.overrides") or []
    if overrides:
        parts.append("types=" + ",".join(str(o.get("instanceType")) for o in overrides))
    return "  ".join(parts)


def _tag(resource: Recorded, key: str) -> str:
    tags = resource.inputs.get("tags") or {}
    return str(tags.get(key, "")) if isinstance(tags, Mapping) else ""


def _short(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the mocks hand every number back as a float
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if isinstance(value, SecretInput):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tree_lines(plan: Plan) -> list[str]:
    by_parent: dict[str, list[Recorded]] = {}
    for resource in plan.resources:
        by_parent.setdefault(resource.parent, []).append(resource)
    urns = {r.urn for r in plan.resources}
    roots = [r for r in plan.resources if r.parent not in urns]
    lines: list[str] = []

    def walk(resource: Recorded, depth: int) -> None:
        kind = resource.type.replace(PROJECT + ":index:", "") if resource.is_component else resource.type
        detail = _describe(resource)
        lines.append(
            f"{'  ' * depth}{'+' if resource.custom else '#'} {kind}  {resource.name}  {detail}".rstrip()
        )
        ordered = sorted(by_parent.get(resource.urn, []), key=lambda r: (r.custom, r.type, r.name))
        for child_resource in ordered:
            walk(child_resource, depth + 1)

    for root in roots:
        walk(root, 0)
    return lines


def security_posture(plan: Plan) -> list[str]:
    """Read from the declared graph, not from the settings: what would really be created."""
    s = plan.settings
    templates = plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    imds = all(_get(t.inputs, "metadataOptions.httpTokens") == "required" for t in templates)
    encrypted = all(
        str(_get(m, "ebs.encrypted")).lower() == "true"
        for t in templates
        for m in t.inputs["blockDeviceMappings"]
    )
    public_ip = any(
        str(_get(t.inputs, "networkInterfaces.0.associatePublicIpAddress")).lower() != "false"
        for t in templates
    )
    ingress = plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    open_world = sorted(r.name for r in ingress if r.inputs.get("cidrIpv4") in ("0.0.0.0/0",))
    client_sources = sorted(
        (
            r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId")
            for r in ingress
            if r.inputs.get("fromPort") == s.security.client_port and "clients" in r.name
        ),
        key=str,
    )
    es = s.elasticsearch
    secrets_created = len(plan.of_type("aws:secretsmanager/secret:Secret"))
    roles = len(plan.of_type("aws:iam/role:Role"))
    return [
        f"client endpoint:    {s.security.client_scheme} on port {s.security.client_port}"
        + (" (TLS by Trino itself, certificate from Secrets Manager)" if s.security.tls else " (no TLS)"),
        f"authentication:     {s.security.authentication}",
        f"clients allowed:    {', '.join(map(str, client_sources)) or 'none (add clientCidrs)'}",
        "internal traffic:   HTTP 8080 between members and the functions only, with the shared secret",
        f"secrets created:    {secrets_created} (values never in user data)",
        f"IMDSv2 required:    {'yes' if imds else 'NO'} on {len(templates)} launch templates",
        f"root volumes:       {'encrypted' if encrypted else 'NOT ENCRYPTED'}",
        f"public IPs:         {'YES' if public_ip else 'none'}",
        f"0.0.0.0/0 ingress:  {', '.join(open_world) or 'none'}",
        f"IAM:                {roles} roles, one per job; AWS-managed policies: "
        + (", ".join(managed_policies(plan)) or "none"),
        "Resource * only:    " + (", ".join(wildcard_actions(plan)) or "nothing"),
        "query log:          " + query_log_line(es),
    ]


def query_log_line(es: ElasticsearchConfig | None) -> str:
    """Which backend, where, and which auth: what `make plan` says about the query log."""
    if es is None:
        return "off"
    service = SIGV4_SERVICES.get(es.backend)
    if service:
        auth = f"SigV4 ({service}, {es.aws_region}) with the coordinator role on {es.aws_resource_arn_path}"
    else:
        auth = "basic auth (password from Secrets Manager)" if es.username else "no auth"
    scheme = es.url.split("://")[0]
    retention = (
        "retention by the collection's data lifecycle policy (not set by this program)"
        if es.backend == STORE_AWS_SERVERLESS
        else f"indices deleted after {es.retention_days} days"
    )
    return f"{es.backend} at {es.url} over {scheme}, {auth}; {retention}"


def wildcard_actions(plan: Plan) -> list[str]:
    """Every action some role may use on every resource, with the roles (IAM offers no narrower
    scope for them); an attached AWS-managed policy is listed by managed_policies instead."""
    found: dict[str, set[str]] = {}
    for policy in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = policy.name.rsplit("-identity-", 1)[-1]
        for statement in json.loads(reveal(policy.inputs["policy"]))["Statement"]:
            resources = statement["Resource"]
            if resources == "*" or "*" in resources:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    found.setdefault(action, set()).add(role)
    return [f"{action} ({', '.join(sorted(roles))})" for action, roles in sorted(found.items())]


def managed_policies(plan: Plan) -> list[str]:
    """AWS-managed policies attached to a role: every action they grant counts, on their terms."""
    return sorted(
        {
            str(reveal(a.inputs["policyArn"]))
            for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        }
    )


def render(plan: Plan, *, verbose: bool = False) -> str:
    counts = plan.counts()
    components = sum(1 for r in plan.resources if r.is_component)
    lines = [f"Plan for stack {plan.stack!r} (Pulumi mocks: the real program, no AWS calls)", ""]
    lines += ["Cluster:"] + [f"  {line}" for line in cluster_lines(plan)] + [""]
    lines += tree_lines(plan)
    lines += ["", "Summary (resources by type):"]
    lines += [f"  {count:4d}  {type_}" for type_, count in sorted(counts.items())]
    lines += [f"  {sum(counts.values()):4d}  resources in total, in {components} components", ""]
    lines += ["Security posture:"] + [f"  {line}" for line in security_posture(plan)]
    requests, _ = requests_of(plan.resources)
    lines += [
        "",
        f"AWS requests: {len(requests)} checked against botocore's service models and documented limits",
    ]
    lines += ["", "Rollout:"] + [f"  {line}" for line in rollout_lines(plan)]
    lines += ["", "What it commits the account to:"] + [f"  {line}" for line in commitment_lines(plan)]
    if verbose:
        lines += ["", "Trino files each role renders:", *rendered_files(plan)]
    return "\n".join(lines)


def rollout_lines(plan: Plan) -> list[str]:
    """What a change rolls and how, from the groups as declared plus the settings' summary."""
    lines = []
    # By name: Pulumi registers the groups in whichever order their inputs resolve.
    groups = sorted(plan.of_type("aws:autoscaling/group:Group"), key=lambda g: str(g.inputs.get("name")))
    for group in groups:
        prefs = _get(group.inputs, "instanceRefresh.preferences") or {}
        hooks = ", ".join(str(h.get("name")) for h in group.inputs.get("initialLifecycleHooks") or [])
        alarms = _get(prefs, "alarmSpecification.alarms") or []
        lines.append(
            f"{group.inputs.get('name')}: refresh min {_short(prefs.get('minHealthyPercentage'))} % / "
            f"max {_short(prefs.get('maxHealthyPercentage'))} % healthy, "
            f"warmup {prefs.get('instanceWarmup')} s, "
            f"checkpoints {[int(p) for p in prefs.get('checkpointPercentages') or []]}, "
            f"auto-rollback {prefs.get('autoRollback')}, alarms {', '.join(map(str, alarms))}; hooks {hooks}"
        )
    return lines + rollout_summary(plan.settings)
