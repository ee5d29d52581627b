"""The typed settings a stack parses into: frozen, so a component cannot change what another reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.settings.keys import (
    DEFAULT_TRINO,
    PROJECT,
)
from node_agent.contract import (
    DEFAULT_QUERYLOG_RETENTION_DAYS,
    STORE_AWS_SERVERLESS,
    STORE_ELASTICSEARCH,
    TAG_CLUSTER,
    TRINO_HTTP_PORT,
    TRINO_HTTPS_PORT,
)

SECRET_PLACEHOLDER = "[secret]"  # what an offline read sees for a `secure:` value it cannot decrypt


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
    warm_pool: int = 0  # stopped, pre-initialised workers beside the group (0: none)

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
    backend: str = STORE_ELASTICSEARCH  # node_agent.contract.STORE_BACKENDS
    retention_days: int = DEFAULT_QUERYLOG_RETENTION_DAYS
    aws_region: str | None = None  # SigV4 backends: the region in the endpoint
    aws_resource: str | None = None  # SigV4 backends: the domain name or the collection id

    @property
    def aws_resource_arn_path(self) -> str | None:
        """The resource part of the ARN the coordinator may call: `domain/<name>` or `collection/<id>`."""
        if self.aws_resource is None:
            return None
        kind = "collection" if self.backend == STORE_AWS_SERVERLESS else "domain"
        return f"{kind}/{self.aws_resource}"


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
    fast_queue_metric: bool = False  # QueuedQueries every 10 s, alarmed on 10 s periods


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
class WorkerSchedule:
    """One scheduled change of the worker group's size (an Auto Scaling scheduled action)."""

    name: str
    recurrence: str  # cron, five fields, in time_zone
    time_zone: str = "UTC"
    min_size: int | None = None
    max_size: int | None = None
    desired_capacity: int | None = None


@dataclass(frozen=True)
class RolloutSettings:
    """How a new launch template reaches running nodes (README, "Upgrades and rollouts")."""

    min_healthy_percent: int = 90  # workers kept in service while the refresh replaces others
    instance_warmup_seconds: int = 300  # a new worker counts as ready this long after InService
    checkpoint_percentages: tuple[int, ...] = ()  # pause at these shares of the fleet replaced
    checkpoint_delay_seconds: int = 600
    auto_rollback: bool = True  # roll back when a rollback alarm fires during the refresh
    quiet_wait_seconds: int = 300  # coordinator switchover: longest wait for no running queries
    standby_wait_minutes: int = 60  # longest the holder waits for a healthy standby on the new template
    worker_schedules: tuple[WorkerSchedule, ...] = ()


@dataclass(frozen=True)
class ProviderSettings:
    """The stack's `aws:` provider keys besides the region (components/settings/aws_provider.py)."""

    options: Mapping[str, object] = field(default_factory=dict)  # Provider arguments, Python names
    secret: frozenset[str] = frozenset()  # options set with `pulumi config set --secret`
    default_tags: Mapping[str, str] = field(default_factory=dict)  # aws:defaultTags' tags


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
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    provider: ProviderSettings = field(default_factory=ProviderSettings)

    @property
    def own_tags(self) -> dict[str, str]:
        """The tags the program itself sets: the cluster tag the nodes and functions look for."""
        return {TAG_CLUSTER: self.name, "Environment": self.environment, "ManagedBy": "pulumi:" + PROJECT}

    @property
    def tags(self) -> dict[str, str]:
        """The tags every taggable resource carries; the cluster's own keys win over extra tags."""
        return {**self.extra_tags, **self.own_tags}


# --- reading raw values ----------------------------------------------------------------------
