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
import re
from collections.abc import Mapping

from components.settings.aws_provider import REGION_KEY, provider_settings, region_problem, tag_conflicts
from components.settings.instance_types import instance_type_problem
from components.settings.keys import (
    FOREIGN_NAMESPACES,
    KNOWN,
    LOG_RETENTION_DAYS,
    MAX_DRAIN_MINUTES,
    PROJECT,
)
from components.settings.limits import limit_problems
from components.settings.model import (
    ClusterSettings,
    ConfigError,
    CoordinatorSettings,
    HealthSettings,
    ImageSettings,
    LifecycleSettings,
    MonitoringSettings,
    NetworkSettings,
    ScalingSettings,
    SecuritySettings,
    VolumeSettings,
    WorkerSettings,
)
from components.settings.querylog import elasticsearch_config
from components.settings.reader import (
    AMI_OWNER,
    ARN,
    CLUSTER_NAME,
    ENVIRONMENT,
    ID,
    INSTANCE_TYPE,
    MAX_CA_BUNDLE_BYTES,
    MAX_CLUSTER_NAME,
    PEM_CERT,
    TAG_KEY,
    ConfigReader,
    cidr_problem,
    full_key,
    is_empty_list,
    is_ipv4,
    matches,
)
from components.settings.render_check import render_problems, size_problems
from components.settings.rollout import rollout_settings
from components.settings.trino import trino_settings

TLS_SINCE = 337  # the node agent's renderer refuses TLS below it (node_agent/render.py)
LOG_KINDS = ("server", "httpRequest", "agent", "syslog", "functions")
DEFAULT_RETENTION = {"server": 30, "httpRequest": 14, "agent": 30, "syslog": 14, "functions": 30}


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
    reader = ConfigReader(own, own_secret)

    provider, provider_problems = provider_settings(raw, secret_keys)
    problems.extend(provider_problems)
    region = raw.get(REGION_KEY)
    if region is None:
        problems.append(f"{REGION_KEY}: missing required key (example: eu-west-1)")
    else:
        skip = provider.options.get("skip_region_validation") is True
        problems.extend(filter(None, [region_problem(REGION_KEY, region, skip)]))

    name = reader.string("clusterName", CLUSTER_NAME) or _default_cluster_name(stack)
    environment = reader.required("environment", ENVIRONMENT)
    network = _network(reader)
    coordinator_type = reader.string("coordinatorInstanceType", INSTANCE_TYPE)
    if coordinator_type and (reason := instance_type_problem(coordinator_type, reader.has("amiId"))):
        reader.problem("coordinatorInstanceType", f"{coordinator_type!r} {reason}")
    coordinator = CoordinatorSettings(
        instance_type=coordinator_type or "m6i.xlarge",
        count=_coordinator_count(reader),
    )
    workers = _workers(reader)
    trino = trino_settings(reader)
    security = _security(reader)
    if security.tls and trino.version < TLS_SINCE:
        reader.problem(
            "tls",
            f"true needs trinoVersion {TLS_SINCE} or newer (the management user and file access rules "
            f"the TLS coordinator relies on arrived in 337); trinoVersion is {trino.version}: "
            "set tls: false or a newer version",
        )
    settings = ClusterSettings(
        stack=stack,
        name=name,
        environment=environment,
        region=region or "",
        network=network,
        coordinator=coordinator,
        workers=workers,
        image=ImageSettings(
            ami_id=reader.string("amiId", ID["ami"]),
            ami_owners=reader.string_list("amiOwners", matches(AMI_OWNER), default=("self",)) or ("self",),
            key_name=reader.string("keyName"),
        ),
        volume=_volume(reader),
        trino=trino,
        security=security,
        lifecycle=_lifecycle(reader),
        scaling=ScalingSettings(
            cpu_target_percent=reader.integer("scalingCpuTargetPercent", 60, 10, 95),
            queued_queries_threshold=reader.integer("scalingQueuedQueriesThreshold", 5, 1, 10000),
            memory_reserved_percent=reader.integer("scalingMemoryReservedPercent", 80, 10, 99),
            step_workers=reader.integer("scalingStepWorkers", 2, 1, 100),
            warmup_seconds=reader.integer("scalingWarmupSeconds", 300, 0, 3600),
            fast_queue_metric=reader.boolean("scalingFastQueueMetric", False),
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
            alarm_topic_arns=reader.string_list("alarmTopicArns", matches(ARN["sns"])),
            failed_queries_threshold=reader.integer("failedQueriesAlarmThreshold", 10, 1, 100000),
        ),
        log_retention_days=_retention(reader),
        elasticsearch=elasticsearch_config(reader),
        extra_tags=_tags(reader),
        rollout=rollout_settings(reader, workers),
        provider=provider,
    )
    problems.extend(reader.problems)
    problems.extend(tag_conflicts(provider, settings.tags, settings.own_tags))
    problems.extend(limit_problems(settings))
    problems.extend(size_problems(settings))
    if not problems:
        # The node agent's renderer has the last word: what it refuses, no node could boot with.
        problems.extend(render_problems(settings))
    if problems:
        raise ConfigError(stack, problems)
    return settings


def _namespace_problems(raw: Mapping[str, str]) -> list[str]:
    problems = []
    known_full = [full_key(name) for name in KNOWN]
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
    return ("trino-" + cleaned)[:MAX_CLUSTER_NAME].rstrip("-")


def _coordinator_count(reader: ConfigReader) -> int:
    if reader.has("coordinatorCount") and reader.raw["coordinatorCount"] not in ("1", "2"):
        reader.problem(
            "coordinatorCount",
            f"{reader.raw['coordinatorCount']!r} is not allowed (allowed: 1 or 2: an active coordinator "
            "and at most one standby share the fixed address)",
        )
        return 2
    return reader.integer("coordinatorCount", 2, 1, 2)


def _network(reader: ConfigReader) -> NetworkSettings:
    worker_subnets = reader.string_list("workerSubnetIds", matches(ID["subnet"]))
    if not reader.has("workerSubnetIds"):
        reader.problem("workerSubnetIds", "missing required key (allowed: one or more subnet-<hex>)")
    elif is_empty_list(reader.raw["workerSubnetIds"]):
        reader.problem("workerSubnetIds", "must name at least one subnet")
    private_ip = reader.string("coordinatorPrivateIp")
    if private_ip is not None and not is_ipv4(private_ip):
        reader.problem("coordinatorPrivateIp", f"{private_ip!r} is not an IPv4 address")
        private_ip = None
    return NetworkSettings(
        vpc_id=reader.required("vpcId", ID["vpc"]),
        coordinator_subnet_id=reader.required("coordinatorSubnetId", ID["subnet"]),
        worker_subnet_ids=worker_subnets,
        coordinator_private_ip=private_ip,
        extra_security_group_ids=reader.string_list("extraSecurityGroupIds", matches(ID["sg"])),
        client_cidrs=reader.string_list("clientCidrs", cidr_problem),
        client_security_group_ids=reader.string_list("clientSecurityGroupIds", matches(ID["sg"])),
        metrics_cidrs=reader.string_list("metricsCidrs", cidr_problem),
        metrics_security_group_ids=reader.string_list("metricsSecurityGroupIds", matches(ID["sg"])),
    )


def _workers(reader: ConfigReader) -> WorkerSettings:
    shape = matches(INSTANCE_TYPE)
    types = reader.string_list(
        "workerInstanceTypes",
        lambda item: shape(item) or instance_type_problem(item, reader.has("amiId")),
        default=("r6i.2xlarge",),
    )
    if reader.has("workerInstanceTypes") and is_empty_list(reader.raw["workerInstanceTypes"]):
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
    spot = reader.integer("workerSpotPercentage", 0, 0, 100)
    warm_pool = reader.integer("workerWarmPool", 0, 0, 1000)
    if warm_pool > max_size:
        reader.problem("workerWarmPool", f"{warm_pool} is greater than workerMaxSize {max_size}")
    workers = WorkerSettings(
        instance_types=types or ("r6i.2xlarge",),
        min_size=min_size,
        max_size=max(max_size, min_size),
        desired_capacity=min(max(desired, min_size), max(max_size, min_size)),
        spot_percentage=spot,
        on_demand_base_capacity=base,
        warm_pool=warm_pool,
    )
    if warm_pool and workers.mixed:
        # PutWarmPool: "cannot be called on an Auto Scaling group that has a mixed instances
        # policy or a launch template ... that requests Spot Instances".
        reader.problem(
            "workerWarmPool",
            f"a warm pool needs one instance type on demand; this stack has "
            f"{len(workers.instance_types)} workerInstanceTypes and workerSpotPercentage "
            f"{workers.spot_percentage} (AWS refuses a warm pool on a mixed-instances or spot group)",
        )
    return workers


def _volume(reader: ConfigReader) -> VolumeSettings:
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
        kms_key_arn=reader.string("kmsKeyArn", ARN["kms"]),
    )


def _security(reader: ConfigReader) -> SecuritySettings:
    tls = reader.boolean("tls", True)
    authentication = reader.choice("authentication", ("none", "password"), "password" if tls else "none")
    if authentication == "password" and not tls:
        reader.problem(
            "authentication", "'password' needs tls: true (Trino accepts passwords only over HTTPS)"
        )
    certificate = reader.string("tlsCertificateSecretArn", ARN["secretsmanager"])
    if tls and not reader.has("tlsCertificateSecretArn"):
        reader.problem(
            "tlsCertificateSecretArn", "missing required key: tls is true (a secret with PEM chain + key)"
        )
    password_file = reader.string("passwordFileSecretArn", ARN["secretsmanager"])
    if authentication == "password" and not reader.has("passwordFileSecretArn"):
        reader.problem("passwordFileSecretArn", "missing required key: authentication is password")
    ca_bundle = reader.string("tlsCaBundle")
    if ca_bundle is not None and PEM_CERT not in ca_bundle:
        reader.problem("tlsCaBundle", f"is not PEM (allowed: text containing {PEM_CERT})")
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


def _lifecycle(reader: ConfigReader) -> LifecycleSettings:
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


def _retention(reader: ConfigReader) -> dict[str, int]:
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


def _tags(reader: ConfigReader) -> dict[str, str]:
    tags = reader.string_map("tags")
    for key, value in tags.items():
        if key.lower().startswith("aws:") or key.startswith(PROJECT + ":"):
            reader.problem("tags", f"{key!r} uses a reserved prefix (aws: and {PROJECT}: are not allowed)")
        elif not TAG_KEY.match(key):
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
