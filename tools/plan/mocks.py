"""The program under Pulumi's mocks, recorded: every resource it declares and every call it makes.

`make plan` and the unit tests need the same thing: the real program function
(components/program.py, the one `pulumi up` runs), with a stack's config loaded the way the CLI
loads it, and no AWS. The mocks answer in AWS's shapes (ids, ARNs, an ENI address, an AMI) so the
program's own checks run; the monitor keeps what the mocks alone lose (parent, dependencies,
ignoreChanges), so a Plan is the resource graph `pulumi up` would create.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

from components.cluster import TrinoCluster
from components.program import program, stack_outputs
from components.settings.keys import PROJECT
from components.settings.model import ClusterSettings
from components.settings.parse import parse
from components.settings.stack_file import read_stack_file

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

    def __init__(
        self, region: str, *, preview: bool = False, deployed: Mapping[str, str] | None = None
    ) -> None:
        self.region = region
        self.preview = preview
        self.deployed = dict(deployed or {})  # SSM parameters of a cluster already deployed
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

    def parameters_by_path(self, path: str) -> dict[str, object]:
        """GetParametersByPath, not recursive: only what a test says is deployed; by default the
        cluster is new, and AWS answers an empty list."""
        prefix = path.rstrip("/") + "/"
        found = {
            k: v for k, v in self.deployed.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]
        }
        return {
            "path": path,
            "names": list(found),
            "values": list(found.values()),
            "types": ["String"] * len(found),
            "arns": [f"arn:aws:ssm:{self.region}:{MOCK_ACCOUNT}:parameter{k}" for k in found],
            "id": path,
        }

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
        if args.token == "aws:ssm/getParametersByPath:getParametersByPath":
            return self.parameters_by_path(str(args.args.get("path", ""))), []
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


def install_mocks(
    stack: str, mocks: RecordingMocks, overrides: Mapping[str, object] | None = None, *, preview: bool = False
) -> RecordingMonitor:
    """Put `mocks` under the Pulumi runtime with the stack file's config (plus overrides), as
    `pulumi up` would hand it to the program; the monitor records what the program declares,
    also when a test expects the program to stop."""
    raw, secret_keys = read_stack_file(stack, overrides)
    return _install(stack, mocks, raw, secret_keys, preview=preview)


def _install(
    stack: str, mocks: RecordingMocks, raw: Mapping[str, str], secret_keys: set[str], *, preview: bool
) -> RecordingMonitor:
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(raw), sorted(secret_keys))
    return monitor


def run_program(
    stack: str,
    overrides: Mapping[str, object] | None = None,
    *,
    preview: bool = False,
    entry: Callable[[], TrinoCluster] = program,
    deployed: Mapping[str, str] | None = None,
) -> Plan:
    """Run the program for a stack file (plus overrides) under mocks; raises ConfigError first.

    `deployed`: SSM parameters (name -> value) of the cluster as a previous `pulumi up` left it;
    none by default, as for a first deploy."""
    raw, secret_keys = read_stack_file(stack, overrides)
    settings = parse(stack, raw, secret_keys)
    mocks = RecordingMocks(settings.region, preview=preview, deployed=deployed)
    monitor = _install(stack, mocks, raw, secret_keys, preview=preview)  # the file read once
    plan = Plan(stack=stack, settings=settings)

    def body() -> pulumi.Output[None]:
        exports = stack_outputs(entry())
        return pulumi.Output.all(**exports).apply(plan.outputs.update)

    pulumi.runtime.test(body)()
    plan.resources = list(monitor.recorded)
    plan.calls = list(mocks.calls)
    return plan
