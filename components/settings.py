"""The stack configuration, parsed once into typed, validated, frozen settings.

Two doors lead here and both end in `parse()`: under `pulumi up` (and under the mocks of
`make plan` and the tests) the values come from `pulumi.Config`'s runtime store; offline,
`load_stack_settings` reads `Pulumi.<stack>.yaml` and turns its values into the strings the
Pulumi CLI would hand the program (scalars as text, lists and maps as JSON). Every problem is
collected with its key and what is allowed, and all are raised together as one ConfigError before
any resource is declared, so a user fixes a stack file in one round, not one error at a time.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pulumi
import yaml

from components.config_keys import (
    DEFAULT_TRINO,
    FOREIGN_NAMESPACES,
    KNOWN,
    LOG_RETENTION_DAYS,
    MAX_DRAIN_MINUTES,
    NEWEST_TRINO,
    OLDEST_TRINO,
    PROJECT,
)
from node_agent import versions
from node_agent.contract import SECRET_REFERENCE_PREFIX, TAG_CLUSTER, TRINO_HTTP_PORT, TRINO_HTTPS_PORT

REPO_ROOT = Path(__file__).resolve().parent.parent
REGION_KEY = "aws:region"
SECRET_PLACEHOLDER = "[secret]"  # what an offline read sees for a `secure:` value it cannot decrypt

# Properties the program derives itself; an override would break identity, discovery or security.
MANAGED_PROPERTIES = {
    "coordinator": "the node's role",
    "node.id": "the instance id",
    "node.environment": "the environment key",
    "node.data-dir": "the node's layout",
    "discovery.uri": "the coordinator address",
    "discovery-server.enabled": "the node's role",
    "internal-communication.shared-secret": "the generated shared secret",
    "http-server.http.port": "the cluster's ports",
    "http-server.https.enabled": "the tls key",
    "http-server.https.port": "the cluster's ports",
    "http-server.https.keystore.path": "the tlsCertificateSecretArn key",
    "http-server.authentication.type": "the authentication key",
    "access-control.name": "the renderer's file-based access control",
    "event-listener.config-files": "the query log (elasticsearchUrl)",
    "spill-enabled": "the spillEnabled key",
    "retry-policy": "the retryPolicy key",
}

LOG_KINDS = ("server", "httpRequest", "agent", "syslog", "functions")
DEFAULT_RETENTION = {"server": 30, "httpRequest": 14, "agent": 30, "syslog": 14, "functions": 30}

_ID = {
    "vpc": re.compile(r"^vpc-[0-9a-f]{8,17}$"),
    "subnet": re.compile(r"^subnet-[0-9a-f]{8,17}$"),
    "sg": re.compile(r"^sg-[0-9a-f]{8,17}$"),
    "ami": re.compile(r"^ami-[0-9a-f]{8,17}$"),
}
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_CLUSTER_NAME = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_CATALOG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PROPERTY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-\[\]]*$")
# A catalog property whose name ends in one of these words holds a credential (connection-password,
# aws-secret-key, oauth2.token); key-column or keystore-path do not.
_CREDENTIAL_WORDS = frozenset({"password", "passwd", "secret", "key", "token", "credential", "credentials"})
_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_INDEX_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")
_AMI_OWNER = re.compile(r"^(self|amazon|aws-marketplace|\d{12})$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ARN = {
    "secretsmanager": re.compile(
        r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
    ),
    "kms": re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"),
    "sns": re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"),
}
# Nodes read their tags through instance metadata, which refuses keys with other characters.
_TAG_KEY = re.compile(r"^[A-Za-z0-9+\-=.,_:@]+$")
_PEM_CERT = "-----BEGIN CERTIFICATE-----"
MAX_CA_BUNDLE_BYTES = 3000  # Lambda allows 4 KB of environment in total


class ConfigError(pulumi.RunError):
    """The stack configuration cannot be deployed; `problems` names every offending key.

    A RunError, so `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"stack {stack!r}: {len(self.problems)} configuration problem(s):\n{lines}")


@dataclass(frozen=True)
class SecretText:
    """A secret config value; its repr never shows the text, so it cannot leak into a plan or log."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return SECRET_PLACEHOLDER


@dataclass(frozen=True)
class NetworkSettings:
    vpc_id: str
    coordinator_subnet_id: str
    worker_subnet_ids: tuple[str, ...]
    coordinator_private_ip: str | None = None
    extra_security_group_ids: tuple[str, ...] = ()
    client_cidrs: tuple[str, ...] = ()
    client_security_group_ids: tuple[str, ...] = ()
    metrics_cidrs: tuple[str, ...] = ()
    metrics_security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeSettings:
    size_gb: int = 100
    type: str = "gp3"
    iops: int | None = None
    kms_key_arn: str | None = None


@dataclass(frozen=True)
class ImageSettings:
    ami_id: str | None = None
    ami_owners: tuple[str, ...] = ("self",)
    key_name: str | None = None


@dataclass(frozen=True)
class CoordinatorSettings:
    instance_type: str = "m6i.xlarge"
    count: int = 2


@dataclass(frozen=True)
class WorkerSettings:
    instance_types: tuple[str, ...] = ("r6i.2xlarge",)
    min_size: int = 1
    max_size: int = 4
    desired_capacity: int = 1
    spot_percentage: int = 0
    on_demand_base_capacity: int = 0

    @property
    def mixed(self) -> bool:
        """A mixed-instances policy is needed for spot or for more than one instance type."""
        return self.spot_percentage > 0 or len(self.instance_types) > 1


@dataclass(frozen=True)
class TrinoSettings:
    version: int = DEFAULT_TRINO
    metastore: str = "none"  # none | hive | glue
    hive_metastore_uri: str | None = None
    data_buckets: tuple[str, ...] = ()
    catalogs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    config_overrides: Mapping[str, str] = field(default_factory=dict)
    spill_enabled: bool = False
    retry_policy: str = "NONE"
    exchange_bucket: str | None = None


@dataclass(frozen=True)
class ElasticsearchConfig:
    url: str
    index_prefix: str = "trino-queries"
    username: str | None = None
    password: SecretText | None = None  # from `pulumi config set --secret`; stored by the program
    password_secret_arn: str | None = None  # an existing secret
    ca_bundle: str | None = None


@dataclass(frozen=True)
class SecuritySettings:
    tls: bool = True
    authentication: str = "password"  # none | password
    certificate_secret_arn: str | None = None
    password_file_secret_arn: str | None = None
    ca_bundle: str | None = None  # PEM, for the worker-health function's HTTPS check

    @property
    def client_port(self) -> int:
        return TRINO_HTTPS_PORT if self.tls else TRINO_HTTP_PORT

    @property
    def client_scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def health_check_over_https(self) -> bool:
        """With passwords on, Trino refuses identities over HTTP, so the worker-health function,
        which queries the coordinator as the management user, must use HTTPS and the password."""
        return self.authentication == "password"


@dataclass(frozen=True)
class LifecycleSettings:
    max_drain_seconds: int = 6 * 3600
    heartbeat_timeout_seconds: int = 300


@dataclass(frozen=True)
class ScalingSettings:
    cpu_target_percent: int = 60
    queued_queries_threshold: int = 5
    memory_reserved_percent: int = 80
    step_workers: int = 2
    warmup_seconds: int = 300


@dataclass(frozen=True)
class HealthSettings:
    failover_failed_probes: int = 3
    failover_probe_interval_seconds: int = 5
    worker_grace_seconds: int = 600
    worker_max_unhealthy_fraction: float = 0.34
    worker_failed_checks: int = 3


@dataclass(frozen=True)
class MonitoringSettings:
    alarm_topic_arns: tuple[str, ...] = ()
    failed_queries_threshold: int = 10


@dataclass(frozen=True)
class ClusterSettings:
    stack: str
    name: str
    environment: str
    region: str
    network: NetworkSettings
    coordinator: CoordinatorSettings
    workers: WorkerSettings
    image: ImageSettings
    volume: VolumeSettings
    trino: TrinoSettings
    security: SecuritySettings
    lifecycle: LifecycleSettings
    scaling: ScalingSettings
    health: HealthSettings
    monitoring: MonitoringSettings
    log_retention_days: Mapping[str, int]
    elasticsearch: ElasticsearchConfig | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def tags(self) -> dict[str, str]:
        """The tags every taggable resource carries; the cluster's own keys win over extra tags."""
        return {
            **self.extra_tags,
            TAG_CLUSTER: self.name,
            "Environment": self.environment,
            "ManagedBy": "pulumi:" + PROJECT,
        }


# --- reading raw values ----------------------------------------------------------------------


class _Reader:
    """Typed access to the raw string values; every failure is recorded, never raised."""

    def __init__(self, raw: Mapping[str, str], secret_keys: set[str]) -> None:
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{_full(key)}: {message}")

    def has(self, key: str) -> bool:
        return self._text(key) is not None

    def _text(self, key: str) -> str | None:
        if key not in KNOWN:
            raise KeyError(f"{key!r} is read but not listed in components/config_keys.py")
        return self.raw.get(key)

    def string(self, key: str, pattern: re.Pattern[str] | None = None, allowed: str = "") -> str | None:
        text = self._text(key)
        if text is None:
            return None
        if pattern is not None and not pattern.match(text):
            self.problem(key, f"{text!r} is not valid (allowed: {allowed or KNOWN[key].allowed})")
            return None
        return text

    def required(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        if not self.has(key):
            self.problem(
                key, f"missing required key (allowed: {KNOWN[key].allowed}; example: {KNOWN[key].example})"
            )
            return ""
        return self.string(key, pattern) or ""

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        text = self._text(key)
        if text is None:
            return default
        if text not in choices:
            self.problem(key, f"{text!r} is not one of {', '.join(choices)}")
            return default
        return text

    def boolean(self, key: str, default: bool) -> bool:
        text = self._text(key)
        if text is None:
            return default
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        self.problem(key, f"{text!r} is not a boolean (allowed: true, false)")
        return default

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        text = self._text(key)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            self.problem(key, f"{text!r} is not an integer (allowed: {low}..{high})")
            return default
        if not low <= value <= high:
            self.problem(key, f"{value} is out of range (allowed: {KNOWN[key].allowed})")
            return default
        return value

    def number(self, key: str, default: float, check: Callable[[float], bool]) -> float:
        text = self._text(key)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not check(value):
            self.problem(key, f"{text!r} is not valid (allowed: {KNOWN[key].allowed})")
            return default
        return value

    def structured(self, key: str, kind: type) -> Any:
        """A list or map, given as JSON text (what the CLI passes for structured config)."""
        text = self._text(key)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, kind):
            noun = "list" if kind is list else "map"
            self.problem(key, f"must be a {noun} ({KNOWN[key].type}), got {text!r}")
            return None
        return value

    def string_list(
        self, key: str, check: Callable[[str], str | None], default: tuple[str, ...] = ()
    ) -> tuple:
        items = self.structured(key, list)
        if items is None:
            return default
        good = []
        for item in items:
            reason = check(item) if isinstance(item, str) else "is not a string"
            if reason:
                self.problem(key, f"item {item!r} {reason} (allowed: {KNOWN[key].allowed})")
            else:
                good.append(item)
        return tuple(good)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.structured(key, dict)
        if value is None:
            return {}
        result = {}
        for name, item in value.items():
            if isinstance(item, dict | list) or item is None:
                self.problem(key, f"value of {name!r} must be a string, number or boolean")
                continue
            result[str(name)] = _scalar_text(item)
        return result


def _full(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def _scalar_text(value: object) -> str:
    """How the Pulumi CLI hands a YAML scalar to the program: booleans lowercase, numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    return lambda item: None if pattern.match(item) else "is not valid"


def _cidr(item: str) -> str | None:
    try:
        network = ipaddress.ip_network(item, strict=True)
    except ValueError:
        return "is not a CIDR with its host bits zero"
    if network.version != 4:
        return "is not an IPv4 CIDR"
    if network.prefixlen == 0:
        return "opens Trino to the whole internet"
    return None


def _is_empty_list(text: str) -> bool:
    try:
        return json.loads(text) == []
    except json.JSONDecodeError:
        return False


def _ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


# --- the parse -------------------------------------------------------------------------------


def parse(
    stack: str, raw: Mapping[str, str], secret_keys: set[str] | frozenset[str] = frozenset()
) -> ClusterSettings:
    """Turn raw config (full key -> string, as the CLI hands it over) into ClusterSettings.

    Raises ConfigError listing every problem. `secret_keys` are the keys the stack stores as
    secrets; a password given in plain text is refused.
    """
    problems = _namespace_problems(raw)
    own = {key.split(":", 1)[1]: value for key, value in raw.items() if key.startswith(PROJECT + ":")}
    own_secret = {key.split(":", 1)[1] for key in secret_keys if key.startswith(PROJECT + ":")}
    reader = _Reader(own, own_secret)

    region = raw.get(REGION_KEY)
    if region is None:
        problems.append(f"{REGION_KEY}: missing required key (example: eu-west-1)")
    elif not _REGION.match(region):
        problems.append(f"{REGION_KEY}: {region!r} is not an AWS region name (example: eu-west-1)")

    name = reader.string("clusterName", _CLUSTER_NAME) or _default_cluster_name(stack)
    environment = reader.required("environment", _ENVIRONMENT)
    network = _network(reader)
    coordinator = CoordinatorSettings(
        instance_type=reader.string("coordinatorInstanceType", _INSTANCE_TYPE) or "m6i.xlarge",
        count=_coordinator_count(reader),
    )
    workers = _workers(reader)
    trino = _trino(reader)
    security = _security(reader)
    settings = ClusterSettings(
        stack=stack,
        name=name,
        environment=environment,
        region=region or "",
        network=network,
        coordinator=coordinator,
        workers=workers,
        image=ImageSettings(
            ami_id=reader.string("amiId", _ID["ami"]),
            ami_owners=reader.string_list("amiOwners", _matches(_AMI_OWNER), default=("self",)) or ("self",),
            key_name=reader.string("keyName"),
        ),
        volume=_volume(reader),
        trino=trino,
        security=security,
        lifecycle=_lifecycle(reader),
        scaling=ScalingSettings(
            cpu_target_percent=reader.integer("scalingCpuTargetPercent", 60, 10, 95),
            queued_queries_threshold=reader.integer("scalingQueuedQueriesThreshold", 5, 1, 10000),
            memory_reserved_percent=reader.integer("scalingMemoryReservedPercent", 80, 10, 100),
            step_workers=reader.integer("scalingStepWorkers", 2, 1, 100),
            warmup_seconds=reader.integer("scalingWarmupSeconds", 300, 0, 3600),
        ),
        health=HealthSettings(
            failover_failed_probes=reader.integer("failoverFailedProbes", 3, 2, 10),
            failover_probe_interval_seconds=reader.integer("failoverProbeIntervalSeconds", 5, 1, 20),
            worker_grace_seconds=reader.integer("workerHealthGraceSeconds", 600, 60, 3600),
            worker_failed_checks=reader.integer("workerHealthFailedChecks", 3, 1, 60),
            worker_max_unhealthy_fraction=reader.number(
                "workerHealthMaxUnhealthyFraction", 0.34, lambda v: 0 < v <= 1
            ),
        ),
        monitoring=MonitoringSettings(
            alarm_topic_arns=reader.string_list("alarmTopicArns", _matches(_ARN["sns"])),
            failed_queries_threshold=reader.integer("failedQueriesAlarmThreshold", 10, 1, 100000),
        ),
        log_retention_days=_retention(reader),
        elasticsearch=_elasticsearch(reader),
        extra_tags=_tags(reader),
    )
    problems.extend(reader.problems)
    if problems:
        raise ConfigError(stack, problems)
    return settings


def _namespace_problems(raw: Mapping[str, str]) -> list[str]:
    problems = []
    known_full = [_full(name) for name in KNOWN]
    for key in sorted(raw):
        namespace, _, name = key.partition(":")
        if not name:
            problems.append(f"{key}: config keys look like namespace:name (for example {PROJECT}:vpcId)")
        elif namespace == PROJECT:
            if name not in KNOWN:
                guess = difflib.get_close_matches(name, list(KNOWN), n=1, cutoff=0.6)
                hint = (
                    f"; did you mean {PROJECT}:{guess[0]}?" if guess else "; see README, Stack configuration"
                )
                problems.append(f"{key}: unknown key{hint}")
        elif namespace not in FOREIGN_NAMESPACES:
            guess = difflib.get_close_matches(f"{PROJECT}:{name}", known_full, n=1, cutoff=0.8)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            problems.append(f"{key}: unknown namespace {namespace!r} (allowed: {PROJECT}, aws, pulumi){hint}")
    return problems


def _default_cluster_name(stack: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-")
    return ("trino-" + cleaned)[:24].rstrip("-")


def _coordinator_count(reader: _Reader) -> int:
    if reader.has("coordinatorCount") and reader.raw["coordinatorCount"] not in ("1", "2"):
        reader.problem(
            "coordinatorCount",
            f"{reader.raw['coordinatorCount']!r} is not allowed (allowed: 1 or 2: an active coordinator "
            "and at most one standby share the fixed address)",
        )
        return 2
    return reader.integer("coordinatorCount", 2, 1, 2)


def _network(reader: _Reader) -> NetworkSettings:
    worker_subnets = reader.string_list("workerSubnetIds", _matches(_ID["subnet"]))
    if not reader.has("workerSubnetIds"):
        reader.problem("workerSubnetIds", "missing required key (allowed: one or more subnet-<hex>)")
    elif _is_empty_list(reader.raw["workerSubnetIds"]):
        reader.problem("workerSubnetIds", "must name at least one subnet")
    private_ip = reader.string("coordinatorPrivateIp")
    if private_ip is not None and not _ipv4(private_ip):
        reader.problem("coordinatorPrivateIp", f"{private_ip!r} is not an IPv4 address")
        private_ip = None
    return NetworkSettings(
        vpc_id=reader.required("vpcId", _ID["vpc"]),
        coordinator_subnet_id=reader.required("coordinatorSubnetId", _ID["subnet"]),
        worker_subnet_ids=worker_subnets,
        coordinator_private_ip=private_ip,
        extra_security_group_ids=reader.string_list("extraSecurityGroupIds", _matches(_ID["sg"])),
        client_cidrs=reader.string_list("clientCidrs", _cidr),
        client_security_group_ids=reader.string_list("clientSecurityGroupIds", _matches(_ID["sg"])),
        metrics_cidrs=reader.string_list("metricsCidrs", _cidr),
        metrics_security_group_ids=reader.string_list("metricsSecurityGroupIds", _matches(_ID["sg"])),
    )


def _workers(reader: _Reader) -> WorkerSettings:
    types = reader.string_list("workerInstanceTypes", _matches(_INSTANCE_TYPE), default=("r6i.2xlarge",))
    if reader.has("workerInstanceTypes") and _is_empty_list(reader.raw["workerInstanceTypes"]):
        reader.problem("workerInstanceTypes", "must name at least one instance type")
    min_size = reader.integer("workerMinSize", 1, 0, 1000)
    max_size = reader.integer("workerMaxSize", 4, 1, 1000)
    if min_size > max_size:
        reader.problem(
            "workerMinSize", f"{min_size} is greater than workerMaxSize {max_size} (allowed: min <= max)"
        )
    desired = reader.integer("workerDesiredCapacity", min_size, 0, 1000)
    if reader.has("workerDesiredCapacity") and min_size <= max_size and not min_size <= desired <= max_size:
        reader.problem(
            "workerDesiredCapacity",
            f"{desired} is outside workerMinSize..workerMaxSize ({min_size}..{max_size})",
        )
    base = reader.integer("workerOnDemandBaseCapacity", 0, 0, 1000)
    if base > max_size:
        reader.problem("workerOnDemandBaseCapacity", f"{base} is greater than workerMaxSize {max_size}")
    return WorkerSettings(
        instance_types=types or ("r6i.2xlarge",),
        min_size=min_size,
        max_size=max(max_size, min_size),
        desired_capacity=min(max(desired, min_size), max(max_size, min_size)),
        spot_percentage=reader.integer("workerSpotPercentage", 0, 0, 100),
        on_demand_base_capacity=base,
    )


def _volume(reader: _Reader) -> VolumeSettings:
    kind = reader.choice("rootVolumeType", ("gp3", "io1", "io2"), "gp3")
    iops: int | None = None
    if reader.has("rootVolumeIops"):
        iops = reader.integer("rootVolumeIops", 0, 100, 256000) or None
        limits = {"gp3": (3000, 16000), "io1": (100, 64000), "io2": (100, 256000)}[kind]
        if iops is not None and not limits[0] <= iops <= limits[1]:
            reader.problem(
                "rootVolumeIops", f"{iops} is out of range for {kind} (allowed: {limits[0]}-{limits[1]})"
            )
    elif kind in ("io1", "io2"):
        reader.problem(
            "rootVolumeIops", f"missing required key: rootVolumeType {kind} needs provisioned IOPS"
        )
    return VolumeSettings(
        size_gb=reader.integer("rootVolumeSizeGb", 100, 20, 16384),
        type=kind,
        iops=iops,
        kms_key_arn=reader.string("kmsKeyArn", _ARN["kms"]),
    )


def _thrift_uri(reader: _Reader) -> str | None:
    uri = reader.string("hiveMetastoreUri")
    if uri is None:
        return None
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "thrift" or not parts.hostname or port is None or parts.path not in ("", "/"):
        reader.problem(
            "hiveMetastoreUri", f"{uri!r} is not valid (allowed: thrift://host:port, e.g. thrift://hms:9083)"
        )
        return None
    return uri


def _trino(reader: _Reader) -> TrinoSettings:
    version = reader.integer("trinoVersion", DEFAULT_TRINO, OLDEST_TRINO, NEWEST_TRINO)
    metastore = reader.choice("metastore", ("none", "hive", "glue"), "none")
    uri = _thrift_uri(reader)
    if metastore == "hive" and uri is None and not reader.has("hiveMetastoreUri"):
        reader.problem(
            "hiveMetastoreUri", "missing required key: metastore is hive (allowed: thrift://host:port)"
        )
    if metastore != "hive" and reader.has("hiveMetastoreUri"):
        reader.problem(
            "hiveMetastoreUri", f"is set but metastore is {metastore!r}; set metastore: hive or drop it"
        )
    retry = reader.choice("retryPolicy", ("NONE", "QUERY", "TASK"), "NONE")
    exchange = reader.string("exchangeBucket", _BUCKET, "an S3 bucket name")
    if retry == "TASK" and not reader.has("exchangeBucket"):
        reader.problem(
            "exchangeBucket", "missing required key: retryPolicy TASK needs an S3 bucket for exchanges"
        )
    if retry != "NONE" and version < 369:
        reader.problem(
            "retryPolicy",
            f"{retry} needs fault-tolerant execution, which arrived in 369 (trinoVersion {version})",
        )
    catalogs = _catalogs(reader, metastore)
    return TrinoSettings(
        version=version,
        metastore=metastore,
        hive_metastore_uri=uri,
        data_buckets=reader.string_list("dataBuckets", _matches(_BUCKET)),
        catalogs=catalogs,
        config_overrides=_overrides(reader, version),
        spill_enabled=reader.boolean("spillEnabled", False),
        retry_policy=retry,
        exchange_bucket=exchange,
    )


def _catalogs(reader: _Reader, metastore: str) -> dict[str, dict[str, str]]:
    value = reader.structured("catalogs", dict)
    if value is None:
        return {}
    catalogs: dict[str, dict[str, str]] = {}
    for name, properties in value.items():
        where = f"catalog {name!r}"
        if not _CATALOG_NAME.match(name):
            reader.problem(
                "catalogs", f"{where}: name is not valid (allowed: a-z 0-9 _, starting with a letter)"
            )
            continue
        if name == "hive" and metastore != "none":
            reader.problem(
                "catalogs", f"{where}: the program defines it from metastore {metastore!r}; rename yours"
            )
            continue
        if not isinstance(properties, dict):
            reader.problem("catalogs", f"{where}: must be a map of property -> value")
            continue
        if "connector.name" not in properties:
            reader.problem("catalogs", f"{where}: needs connector.name")
        bad = [
            k
            for k, v in properties.items()
            if isinstance(v, dict | list) or v is None or not _PROPERTY.match(k)
        ]
        for key in bad:
            reader.problem("catalogs", f"{where}: property {key!r} must be a valid name with a scalar value")
        catalogs[name] = {k: _scalar_text(v) for k, v in properties.items() if k not in bad}
        for key, text in catalogs[name].items():
            _check_catalog_value(reader, name, key, text)
    return catalogs


def _check_catalog_value(reader: _Reader, catalog: str, key: str, text: str) -> None:
    """A credential reaches the nodes only as a Secrets Manager reference, never as stack text."""
    where = f"catalogs.{catalog}.{key}"
    if text.startswith(SECRET_REFERENCE_PREFIX):
        arn, _, json_key = text[len(SECRET_REFERENCE_PREFIX) :].partition("#")
        if not _ARN["secretsmanager"].match(arn) or ("#" in text and not json_key):
            reader.problem(
                "catalogs",
                f"{where}: {text!r} is not a valid reference (allowed: {SECRET_REFERENCE_PREFIX}<secret ARN> "
                f"or {SECRET_REFERENCE_PREFIX}<secret ARN>#<json key>, ARN "
                "arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
            )
    elif re.split(r"[._-]", key.lower())[-1] in _CREDENTIAL_WORDS:
        reader.problem(
            "catalogs",
            f"{where}: looks like a credential and is stored in plain text; "
            f"store it in Secrets Manager and give {SECRET_REFERENCE_PREFIX}<arn> instead",
        )


def catalog_secret_arns(catalogs: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The secret ARNs the catalogs refer to, which every node must be allowed to read."""
    arns = {
        value[len(SECRET_REFERENCE_PREFIX) :].partition("#")[0]
        for properties in catalogs.values()
        for value in properties.values()
        if value.startswith(SECRET_REFERENCE_PREFIX)
    }
    return sorted(arns)


def _overrides(reader: _Reader, version: int) -> dict[str, str]:
    overrides = reader.string_map("configOverrides")
    for name in sorted(overrides):
        if not _PROPERTY.match(name):
            reader.problem("configOverrides", f"{name!r} is not a property name")
        elif name in MANAGED_PROPERTIES:
            reader.problem(
                "configOverrides", f"{name!r} is set by the program from {MANAGED_PROPERTIES[name]}"
            )
        else:
            reason = _version_rejection(name, version)
            if reason:
                reader.problem("configOverrides", reason)
    return {k: v for k, v in overrides.items() if k not in MANAGED_PROPERTIES}


def _version_rejection(name: str, version: int) -> str | None:
    """Why this Trino version would refuse the property at boot, from the renderer's own table."""
    return versions.rejection(name, version)


def _elasticsearch(reader: _Reader) -> ElasticsearchConfig | None:
    dependent = (
        "elasticsearchUsername",
        "elasticsearchPassword",
        "elasticsearchPasswordSecretArn",
        "elasticsearchCaBundle",
    )
    url_text = reader.string("elasticsearchUrl")
    if url_text is None:
        for key in dependent:
            if reader.has(key):
                reader.problem(key, "is set but elasticsearchUrl is not (the query log is off without it)")
        return None
    url = _es_url(reader, url_text)
    username = reader.string("elasticsearchUsername")
    password = _secret(reader, "elasticsearchPassword")
    arn = reader.string("elasticsearchPasswordSecretArn", _ARN["secretsmanager"])
    if password is not None and reader.has("elasticsearchPasswordSecretArn"):
        reader.problem(
            "elasticsearchPassword",
            "give either elasticsearchPassword or elasticsearchPasswordSecretArn, not both",
        )
    has_password = reader.has("elasticsearchPassword") or reader.has("elasticsearchPasswordSecretArn")
    if has_password and username is None:
        reader.problem("elasticsearchUsername", "missing required key: a password needs a username")
    if username is not None and not has_password:
        reader.problem(
            "elasticsearchPasswordSecretArn", "missing required key: elasticsearchUsername needs a password"
        )
    if has_password and url and url.startswith("http://"):
        reader.problem(
            "elasticsearchUrl",
            f"{url!r} would send the password in clear text (allowed: https:// with credentials)",
        )
    ca_bundle = reader.string("elasticsearchCaBundle")
    if ca_bundle is not None and _PEM_CERT not in ca_bundle:
        reader.problem("elasticsearchCaBundle", f"is not PEM (allowed: text containing {_PEM_CERT})")
    return ElasticsearchConfig(
        url=url or "",
        index_prefix=reader.string("elasticsearchIndexPrefix", _INDEX_PREFIX) or "trino-queries",
        username=username,
        password=password,
        password_secret_arn=arn,
        ca_bundle=ca_bundle,
    )


def _es_url(reader: _Reader, text: str) -> str | None:
    parts = urlsplit(text)
    try:
        port = parts.port or 9200
    except ValueError:
        port = None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
    ):
        reader.problem("elasticsearchUrl", f"{text!r} is not valid (allowed: http(s)://host[:port], no path)")
        return None
    return f"{parts.scheme}://{parts.hostname}:{port}"


def _secret(reader: _Reader, key: str) -> SecretText | None:
    text = reader.string(key)
    if text is None:
        return None
    if key not in reader.secret_keys:
        reader.problem(key, f"is stored in plain text; set it with `pulumi config set --secret {key} ...`")
        return None
    return SecretText(text)


def _security(reader: _Reader) -> SecuritySettings:
    tls = reader.boolean("tls", True)
    authentication = reader.choice("authentication", ("none", "password"), "password" if tls else "none")
    if authentication == "password" and not tls:
        reader.problem(
            "authentication", "'password' needs tls: true (Trino accepts passwords only over HTTPS)"
        )
    certificate = reader.string("tlsCertificateSecretArn", _ARN["secretsmanager"])
    if tls and not reader.has("tlsCertificateSecretArn"):
        reader.problem(
            "tlsCertificateSecretArn", "missing required key: tls is true (a secret with PEM chain + key)"
        )
    password_file = reader.string("passwordFileSecretArn", _ARN["secretsmanager"])
    if authentication == "password" and not reader.has("passwordFileSecretArn"):
        reader.problem("passwordFileSecretArn", "missing required key: authentication is password")
    ca_bundle = reader.string("tlsCaBundle")
    if ca_bundle is not None and _PEM_CERT not in ca_bundle:
        reader.problem("tlsCaBundle", f"is not PEM (allowed: text containing {_PEM_CERT})")
    elif ca_bundle is not None and len(ca_bundle.encode()) > MAX_CA_BUNDLE_BYTES:
        reader.problem(
            "tlsCaBundle",
            f"is {len(ca_bundle.encode())} bytes; the function environment holds at most "
            f"{MAX_CA_BUNDLE_BYTES} (give only the issuing CA)",
        )
    return SecuritySettings(
        tls=tls,
        authentication=authentication,
        certificate_secret_arn=certificate,
        password_file_secret_arn=password_file,
        ca_bundle=ca_bundle,
    )


def _lifecycle(reader: _Reader) -> LifecycleSettings:
    minutes = reader.integer("maxDrainMinutes", 360, 1, 10**6)
    heartbeat = reader.integer("lifecycleHeartbeatSeconds", 300, 30, 7200)
    if minutes > MAX_DRAIN_MINUTES:
        reader.problem(
            "maxDrainMinutes",
            f"{minutes} is longer than 48 h, the most an Auto Scaling lifecycle hook can wait "
            f"(allowed: 1-{MAX_DRAIN_MINUTES})",
        )
        minutes = MAX_DRAIN_MINUTES
    elif minutes * 60 > 100 * heartbeat:
        reader.problem(
            "maxDrainMinutes",
            f"{minutes} min is longer than 100 heartbeats of {heartbeat} s, the most a lifecycle hook waits; "
            f"raise lifecycleHeartbeatSeconds to at least {-(-minutes * 60 // 100)}",
        )
    return LifecycleSettings(max_drain_seconds=minutes * 60, heartbeat_timeout_seconds=heartbeat)


def _retention(reader: _Reader) -> dict[str, int]:
    retention = dict(DEFAULT_RETENTION)
    value = reader.structured("logRetentionDays", dict) or {}
    allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
    for kind, days in value.items():
        if kind not in LOG_KINDS:
            guess = difflib.get_close_matches(kind, LOG_KINDS, n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            reader.problem(
                "logRetentionDays", f"unknown log kind {kind!r} (allowed: {', '.join(LOG_KINDS)}){hint}"
            )
        elif isinstance(days, bool) or not isinstance(days, int) or days not in LOG_RETENTION_DAYS:
            reader.problem(
                "logRetentionDays",
                f"{kind}: {days!r} days is not a CloudWatch retention (allowed: {allowed})",
            )
        else:
            retention[kind] = days
    return retention


def _tags(reader: _Reader) -> dict[str, str]:
    tags = reader.string_map("tags")
    for key, value in tags.items():
        if key.lower().startswith("aws:") or key.startswith(PROJECT + ":"):
            reader.problem("tags", f"{key!r} uses a reserved prefix (aws: and {PROJECT}: are not allowed)")
        elif not _TAG_KEY.match(key):
            reader.problem(
                "tags",
                f"{key!r} has characters instance metadata cannot carry "
                "(allowed: letters, digits, + - = . , _ : @)",
            )
        elif not 1 <= len(key) <= 128 or len(value) > 256:
            reader.problem("tags", f"{key!r}: keys are 1-128 characters, values at most 256")
    return {
        k: v for k, v in tags.items() if not k.lower().startswith("aws:") and not k.startswith(PROJECT + ":")
    }


# --- the two doors ---------------------------------------------------------------------------


def raw_from_pulumi() -> tuple[dict[str, str], set[str]]:
    """Every config value of the running stack, as the engine handed it to the program."""
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env()) | {
        k for k in raw if pulumi.runtime.is_config_secret(k)
    }
    return {key: _scalar_text(value) for key, value in raw.items()}, secret


def settings_from_pulumi() -> ClusterSettings:
    """The settings of the stack being deployed (under `pulumi up`, preview or the mocks)."""
    raw, secret = raw_from_pulumi()
    return parse(pulumi.get_stack(), raw, secret)


def read_stack_file(
    stack: str, overrides: Mapping[str, object] | None = None, root: Path = REPO_ROOT
) -> tuple[dict[str, str], set[str]]:
    """Pulumi.<stack>.yaml as the CLI would hand it to the program, plus the secret keys.

    `overrides` (short or full keys) replace file values; a `secure:` value, which needs the
    stack's secrets provider to decrypt, reads as a placeholder.
    """
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(stack, [f"no stack file {path.name} (stacks here: {', '.join(stacks) or 'none'})"])
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(stack, [f"{path.name} is not valid YAML: {exc}"]) from exc
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(stack, [f"{path.name}: `config` must be a map of key -> value"])
    raw: dict[str, str] = {}
    secret: set[str] = set()
    for key, value in {**config, **{_full(k): v for k, v in (overrides or {}).items()}}.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            raw[key] = SECRET_PLACEHOLDER
            secret.add(key)
        elif isinstance(value, SecretText):
            raw[key] = value.value
            secret.add(key)
        elif isinstance(value, dict | list):
            raw[key] = json.dumps(value)
        elif value is not None:
            raw[key] = _scalar_text(value)
    return raw, secret


def load_stack_settings(
    stack: str, overrides: Mapping[str, object] | None = None, root: Path = REPO_ROOT
) -> ClusterSettings:
    """Pulumi.<stack>.yaml parsed offline exactly as `pulumi up` would parse it."""
    raw, secret = read_stack_file(stack, overrides, root)
    return parse(stack, raw, secret)
