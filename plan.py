"""`make plan STACK=<name>`: what `pulumi up` would create, printed on a machine without AWS.

It runs the real program function (components/program.py, the one `pulumi up` runs) under
Pulumi's mocks, with the stack's config loaded the way the CLI would load it, records every
resource the program declares (type, name, parent, inputs, dependencies) and prints the
component tree, a count by type and the security posture read from that same graph.
Then every AWS request the graph implies is checked against botocore's service models and the
documented limits they lack (components/aws_requests.py). A bad stack file, or a request AWS would
refuse, prints the whole list of problems and exits 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from components.aws_request_check import request_problems
from components.aws_requests import requests_of
from components.cluster import TrinoCluster
from components.config_keys import PROJECT
from components.packaging import PackagingError
from components.program import program, stack_outputs
from components.rollout import rollout_summary
from components.settings import parse
from components.settings_model import ClusterSettings, ConfigError, ElasticsearchConfig
from components.stack_file import read_stack_file
from node_agent.contract import SIGV4_SERVICES, STORE_AWS_SERVERLESS

MOCK_ACCOUNT = "123456789012"
MOCK_AMI = "ami-0123456789abcdef0"
MOCK_COORDINATOR_IP = "10.0.1.10"
STACK_TYPE = "pulumi:pulumi:Stack"
# How Pulumi's wire protocol marks a secret value inside a property map (stable across SDKs).
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass(frozen=True)
class SecretInput:
    """An input the program marked secret; printing it never shows the value."""

    value: Any = field(repr=False)

    def __str__(self) -> str:
        return "[secret]"


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return SecretInput(unwrap_secrets(value.get("value")))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The plain value, whether or not the program marked it secret."""
    return value.value if isinstance(value, SecretInput) else value


@dataclass(frozen=True)
class Recorded:
    """One resource as the program declared it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()

    @property
    def is_component(self) -> bool:
        return not self.custom


@dataclass
class Plan:
    stack: str
    settings: ClusterSettings
    resources: list[Recorded] = field(default_factory=list)
    calls: list[MockCallArgs] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str, type_: str | None = None) -> Recorded:
        matches = [r for r in self.resources if r.name == name and type_ in (None, r.type)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} (type {type_ or 'any'})")
        return matches[0]

    def children(self, parent: Recorded) -> list[Recorded]:
        return [r for r in self.resources if r.parent == parent.urn]

    def counts(self) -> Counter[str]:
        return Counter(r.type for r in self.resources if r.custom)


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like AWS would in shape (ids, ARNs, an ENI address, an AMI) and invents nothing else."""

    def __init__(self, region: str, *, preview: bool = False) -> None:
        self.region = region
        self.preview = preview
        self.calls: list[MockCallArgs] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if self.preview:
            # As in a real preview of a new stack: computed outputs (ARNs, the ENI's address,
            # template versions) are not known yet, so everything built on them stays unknown.
            return "", state
        state.setdefault("name", args.name)
        state["arn"] = self.arn(args.typ, args.name)
        if args.typ == "aws:ec2/networkInterface:NetworkInterface":
            state["privateIp"] = (args.inputs.get("privateIps") or [MOCK_COORDINATOR_IP])[0]
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
        if args.typ == "aws:secretsmanager/secretVersion:SecretVersion":
            state["versionId"] = f"{args.name}-version-1"
        return f"{args.name}-id", state

    def arn(self, type_: str, name: str) -> str:
        """An ARN in the format AWS gives this type (the request check validates ARNs)."""
        service = type_.split(":")[1].split("/")[0] if ":" in type_ else "mock"
        where = f"{self.region}:{MOCK_ACCOUNT}"
        formats = {
            "aws:iam/role:Role": f"arn:aws:iam::{MOCK_ACCOUNT}:role/{name}",
            "aws:iam/instanceProfile:InstanceProfile": f"arn:aws:iam::{MOCK_ACCOUNT}:instance-profile/{name}",
            "aws:lambda/function:Function": f"arn:aws:lambda:{where}:function:{name}",
            "aws:cloudwatch/eventRule:EventRule": f"arn:aws:events:{where}:rule/{name}",
            "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{where}:log-group:{name}",
            "aws:secretsmanager/secret:Secret": f"arn:aws:secretsmanager:{where}:secret:{name}-AbCdEf",
        }
        return formats.get(type_, f"arn:aws:{service}:{where}:{name}")

    def call(self, args: MockCallArgs) -> tuple[dict, list]:
        self.calls.append(args)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT}:user/plan",
                "userId": "plan",
                "id": MOCK_ACCOUNT,
            }, []
        if args.token == "aws:ec2/getAmi:getAmi":
            # A pinned amiId is looked up by an image-id filter: answer with that image.
            pinned = [f["values"][0] for f in args.args.get("filters") or [] if f.get("name") == "image-id"]
            ami = pinned[0] if pinned else MOCK_AMI
            return {"id": ami, "imageId": ami, "rootDeviceName": "/dev/xvda"}, []
        if args.token == "aws:secretsmanager/getSecretVersions:getSecretVersions":
            # A configured secret's current version, one fixed id per secret (ListSecretVersionIds).
            secret = str(args.args.get("secretId", ""))
            version = {
                "versionId": f"current-of-{secret.rsplit(':', 1)[-1]}",
                "versionStages": ["AWSCURRENT"],
            }
            return {"arn": secret, "name": secret, "versions": [version]}, []
        return {}, []


class RecordingMonitor(MockMonitor):
    """The mocks' monitor, keeping each registration's parent and dependencies as well."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Recorded] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != STACK_TYPE:
            inputs = unwrap_secrets(rpc.deserialize_properties(request.object, keep_unknowns=True))
            record = Recorded(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                inputs=inputs,
                dependencies=tuple(request.dependencies),
                ignore_changes=tuple(request.ignoreChanges),
            )
            with self._lock:
                self.recorded.append(record)
        return response


def run_program(
    stack: str,
    overrides: Mapping[str, object] | None = None,
    *,
    preview: bool = False,
    entry: Callable[[], TrinoCluster] = program,
) -> Plan:
    """Run the program for a stack file (plus overrides) under mocks; raises ConfigError first."""
    raw, secret_keys = read_stack_file(stack, overrides)
    settings = parse(stack, raw, secret_keys)
    mocks = RecordingMocks(settings.region, preview=preview)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(raw, sorted(secret_keys))
    plan = Plan(stack=stack, settings=settings)

    def body() -> pulumi.Output[None]:
        exports = stack_outputs(entry())
        return pulumi.Output.all(**exports).apply(plan.outputs.update)

    pulumi.runtime.test(body)()
    plan.resources = list(monitor.recorded)
    plan.calls = list(mocks.calls)
    return plan


# --- printing --------------------------------------------------------------------------------


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
    open_world = [r.name for r in ingress if r.inputs.get("cidrIpv4") in ("0.0.0.0/0",)]
    client_sources = [
        r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId")
        for r in ingress
        if r.inputs.get("fromPort") == s.security.client_port and "clients" in r.name
    ]
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


def render(plan: Plan) -> str:
    counts = plan.counts()
    components = sum(1 for r in plan.resources if r.is_component)
    lines = [f"Plan for stack {plan.stack!r} (Pulumi mocks: the real program, no AWS calls)", ""]
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
    return "\n".join(lines)


def rollout_lines(plan: Plan) -> list[str]:
    """What a change rolls and how, from the groups as declared plus the settings' summary."""
    lines = []
    for group in plan.of_type("aws:autoscaling/group:Group"):
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


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set wants key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_override,
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (JSON values allowed)",
    )
    options = parser.parse_args(argv)
    try:
        plan = run_program(options.stack, dict(options.overrides))
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 2
    except PackagingError as error:
        print(f"cannot package a function: {error}", file=sys.stderr)
        return 2
    refused = request_problems(plan.resources)
    if refused:
        lines = "\n".join(f"  - {p}" for p in refused)
        print(
            f"stack {options.stack!r}: AWS would refuse {len(refused)} request(s):\n{lines}", file=sys.stderr
        )
        return 2
    print(render(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
