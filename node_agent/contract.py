"""What the Pulumi program and the node agent must agree on, in one place.

The program creates alarms, dashboards and scaling policies on metrics that the agent publishes,
writes the node settings that the agent reads at boot, and opens the ports that the agent and Trino
listen on. Keeping both sides' names here means they cannot drift apart: a rename is one edit, and
both halves' tests see it.

This module is imported by the Pulumi program, the agent and the Lambda functions, so it uses the
standard library only.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

# --- ports -------------------------------------------------------------------------------------
TRINO_HTTP_PORT = 8080
TRINO_HTTPS_PORT = 8443
AGENT_METRICS_PORT = 9483  # Prometheus endpoint of `node-agent metrics`
# How often the coordinator's metrics agent reads Trino and publishes to CloudWatch; with
# scalingFastQueueMetric, every 10 s and QueuedQueries at 1 s resolution (the 10 s alarm needs it).
METRICS_INTERVAL_SECONDS = 15.0
FAST_METRICS_INTERVAL_SECONDS = 10.0
QUERYLOG_PORT = 8089  # `node-agent querylog`; bound to 127.0.0.1 only
QUERYLOG_PATH = "/v1/query-completed"  # where Trino's HTTP event listener POSTs each event

# --- identities --------------------------------------------------------------------------------
# The only user that Trino's access rules allow to write system information (graceful shutdown)
# and read management endpoints. Ordinary users cannot drain a node.
MANAGEMENT_USER = "presto-on-aws-agent"
# A catalog property value `secretsmanager:<secret ARN>[#<json key>]` is resolved by bootstrap on
# the node; only the secret's value reaches the catalog file.
SECRET_REFERENCE_PREFIX = "secretsmanager:"

# --- on the node -------------------------------------------------------------------------------
# User data writes only this small file (no secrets): which parameter holds the node settings and
# which role this node plays. Everything else is read from SSM / Secrets Manager at boot.
NODE_ENV_FILE = "/etc/presto-on-aws/node.env"
# Keys of NODE_ENV_FILE (KEY=value lines, systemd EnvironmentFile syntax), then the unit that
# user data starts once the file is written.
NODE_ENV_SETTINGS_PARAMETER = "PRESTO_ON_AWS_SETTINGS_PARAMETER"  # SSM parameter name of NodeSettings
NODE_ENV_ROLE = "PRESTO_ON_AWS_ROLE"  # a Role value
NODE_ENV_REGION = "AWS_REGION"
BOOTSTRAP_UNIT = "presto-on-aws-bootstrap.service"
TRINO_HOME = "/opt/trino"
TRINO_ETC = "/etc/trino"
TRINO_DATA = "/var/lib/trino"
AGENT_STATE_DIR = "/var/lib/presto-on-aws"


class LogFile(StrEnum):
    """Files the CloudWatch agent ships, each to the log group of the same kind."""

    SERVER = "/var/lib/trino/var/log/server.log"
    HTTP_REQUEST = "/var/lib/trino/var/log/http-request.log"
    AGENT = "/var/log/presto-on-aws/agent.log"
    SYSLOG = "/var/log/messages"


# --- tags --------------------------------------------------------------------------------------
TAG_CLUSTER = "presto-on-aws:cluster"
TAG_ROLE = "presto-on-aws:role"
AMI_TAG_TRINO_VERSION = "trino-version"
# The worker-health function's memory between runs: how many checks in a row a worker failed.
# Kept on the instance itself, so it needs no table and disappears with the instance.
TAG_HEALTH_MISSES = "presto-on-aws:health-misses"


class Role(StrEnum):
    COORDINATOR = "coordinator"
    WORKER = "worker"


# --- CloudWatch metrics ------------------------------------------------------------------------
CLOUDWATCH_NAMESPACE = "PrestoOnAws"
DIMENSION_CLUSTER = "Cluster"


class Metric(StrEnum):
    """Cluster metrics the coordinator's agent and the functions publish, one dimension: Cluster."""

    RUNNING_QUERIES = "RunningQueries"
    QUEUED_QUERIES = "QueuedQueries"
    BLOCKED_QUERIES = "BlockedQueries"
    FAILED_QUERIES = "FailedQueries"  # failures during the interval (a delta, not a total)
    COMPLETED_QUERIES = "CompletedQueries"  # completions during the interval
    ACTIVE_WORKERS = "ActiveWorkers"
    CLUSTER_MEMORY_RESERVED_PERCENT = "ClusterMemoryReservedPercent"
    CLUSTER_CPU_PERCENT = "ClusterCpuPercent"
    WORKER_DRAIN_SECONDS = "WorkerDrainSeconds"  # published by a worker's lifecycle agent
    SHUTDOWN_REFUSED = "ShutdownRefused"  # a worker's Trino answered 401/403 to its drain request
    COORDINATOR_FAILOVERS = "CoordinatorFailovers"  # published by the failover function
    WORKERS_MARKED_UNHEALTHY = "WorkersMarkedUnhealthy"  # published by the worker-health function
    # 1 when more workers fail at once than may be replaced, so none is (worker-health function)
    SYSTEMIC_WORKER_FAULT = "SystemicWorkerFault"
    SWITCHOVERS_NOT_QUIET = "SwitchoversNotQuiet"  # rollout moved the address while queries ran
    SWITCHOVERS_WITHOUT_STANDBY = "SwitchoversWithoutStandby"  # a leaving holder let go with no standby


# --- Lambda functions -------------------------------------------------------------------------
# The failover function's memory of a coordinator switchover between its runs: when it first saw
# that coordinator held by the switchover hook (ISO 8601, UTC).
TAG_SWITCHOVER_SINCE = "presto-on-aws:switchover-since"
FUNCTION_HANDLER = "handler.handler"  # each functions/<name>/handler.py defines handler(event, context)
# The coordinator ENI is a secondary interface: the failover function attaches it at this index,
# and the node's OS brings it up as its second interface (the address workers and clients use).
COORDINATOR_ENI_DEVICE_INDEX = 1


class FunctionEnv(StrEnum):
    """Environment variables the program sets on the functions and the functions read."""

    CLUSTER = "CLUSTER"
    COORDINATOR_ENI_ID = "COORDINATOR_ENI_ID"
    COORDINATOR_ADDRESS = "COORDINATOR_ADDRESS"  # the ENI's fixed private address
    COORDINATOR_ASG_NAME = "COORDINATOR_ASG_NAME"
    WORKER_ASG_NAME = "WORKER_ASG_NAME"
    TRINO_PORT = "TRINO_PORT"
    TRINO_SCHEME = "TRINO_SCHEME"  # http | https
    FAILED_PROBES = "FAILED_PROBES"  # K consecutive failures before acting
    PROBE_INTERVAL_SECONDS = "PROBE_INTERVAL_SECONDS"
    PROBE_WINDOW_SECONDS = "PROBE_WINDOW_SECONDS"  # how long one failover invocation keeps probing
    PROBE_TIMEOUT_SECONDS = "PROBE_TIMEOUT_SECONDS"  # one HTTP call to Trino, before it counts as failed
    UNRESPONSIVE_SECONDS = "UNRESPONSIVE_SECONDS"  # the holder fails this long before the address moves
    GRACE_PERIOD_SECONDS = "GRACE_PERIOD_SECONDS"  # new workers are left alone this long
    MAX_UNHEALTHY_FRACTION = "MAX_UNHEALTHY_FRACTION"
    MANAGEMENT_PASSWORD_SECRET_ARN = "MANAGEMENT_PASSWORD_SECRET_ARN"
    SHARED_SECRET_ARN = "SHARED_SECRET_ARN"  # internal auth: the switchover hands workers over
    CA_BUNDLE = "CA_BUNDLE"  # PEM text, for https
    SWITCHOVER_HOOK_NAME = "SWITCHOVER_HOOK_NAME"  # the coordinator group's termination hook
    SWITCHOVER_QUIET_WAIT_SECONDS = "SWITCHOVER_QUIET_WAIT_SECONDS"  # wait for no running query
    SWITCHOVER_STANDBY_WAIT_SECONDS = "SWITCHOVER_STANDBY_WAIT_SECONDS"  # wait for a healthy standby


# --- node settings -----------------------------------------------------------------------------
class SettingsError(ValueError):
    """Node settings that cannot be used; the message names every offending key."""


# --- query-log stores ---------------------------------------------------------------------------
# Which server the query log ships to (stack key queryLogBackend, node settings
# elasticsearch.backend). The two AWS ones sign each request with SigV4 from the node's role, for
# the service named here; the others use basic auth or none.
STORE_ELASTICSEARCH = "elasticsearch"
STORE_OPENSEARCH = "opensearch"
STORE_AWS_OPENSEARCH = "aws-opensearch"  # an Amazon OpenSearch Service domain
STORE_AWS_SERVERLESS = "aws-opensearch-serverless"  # an OpenSearch Serverless collection
STORE_BACKENDS = (STORE_ELASTICSEARCH, STORE_OPENSEARCH, STORE_AWS_OPENSEARCH, STORE_AWS_SERVERLESS)
SIGV4_SERVICES = {STORE_AWS_OPENSEARCH: "es", STORE_AWS_SERVERLESS: "aoss"}
DEFAULT_QUERYLOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class ElasticsearchSettings:
    """Where the query log goes. The name predates OpenSearch; `backend` says which server it is."""

    url: str  # scheme://host:port
    index_prefix: str = "trino-queries"
    username: str | None = None
    password_secret_arn: str | None = None  # Secrets Manager; the value is the password itself
    ca_bundle: str | None = None  # PEM text of the CA that signed the server certificate
    backend: str = STORE_ELASTICSEARCH  # one of STORE_BACKENDS
    aws_region: str | None = None  # the SigV4 signing region (AWS backends only)
    retention_days: int = DEFAULT_QUERYLOG_RETENTION_DAYS  # daily indices older than this are deleted

    @property
    def sigv4_service(self) -> str | None:
        return SIGV4_SERVICES.get(self.backend)


@dataclass(frozen=True)
class TlsSettings:
    """Client-facing HTTPS and authentication on the coordinator (see README, "Security")."""

    enabled: bool = False
    authentication: str = "none"  # "none" | "password"
    keystore_secret_arn: str | None = None  # PEM certificate chain + private key
    password_file_secret_arn: str | None = None  # Trino password file (user:bcrypt-hash lines)
    management_password_secret_arn: str | None = None  # the agent's own password
    internal_https: bool = False


@dataclass(frozen=True)
class NodeSettings:
    """Everything a node needs at boot, written by the program to one SSM parameter.

    Secrets are never values here, only Secrets Manager ARNs that the node's role may read.
    """

    cluster: str
    environment: str  # Trino's node.environment
    region: str
    trino_version: int
    coordinator_address: str  # the fixed private IP of the coordinator ENI
    shared_secret_arn: str
    catalogs: dict[str, dict[str, str]] = field(default_factory=dict)
    config_overrides: dict[str, str] = field(default_factory=dict)
    spill_enabled: bool = False
    retry_policy: str = "NONE"  # NONE | QUERY | TASK
    exchange_bucket: str | None = None  # required for retry_policy TASK
    max_drain_seconds: int = 6 * 3600
    heartbeat_timeout_seconds: int = 300
    lifecycle_hook_name: str = ""
    log_groups: dict[str, str] = field(default_factory=dict)  # LogFile name -> log group
    fast_queue_metric: bool = False  # the coordinator publishes every 10 s, QueuedQueries at 1 s resolution
    elasticsearch: ElasticsearchSettings | None = None
    tls: TlsSettings = field(default_factory=TlsSettings)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> NodeSettings:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"node settings are not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise SettingsError("node settings must be a JSON object")
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> NodeSettings:
        problems: list[str] = []
        values = _checked(cls, raw, "", problems)
        nested = {"elasticsearch": ElasticsearchSettings, "tls": TlsSettings}
        for key, kind in nested.items():
            if isinstance(values.get(key), dict):
                values[key] = _checked(kind, values[key], f"{key}.", problems)
        if problems:
            raise SettingsError("invalid node settings: " + "; ".join(problems))
        for key, kind in nested.items():
            if isinstance(values.get(key), dict):
                values[key] = kind(**values[key])
        return cls(**values)


def _checked(kind: type, raw: dict[str, Any], prefix: str, problems: list[str]) -> dict[str, Any]:
    """Reject unknown keys and report missing required ones, all at once."""
    known = {f.name: f for f in fields(kind)}
    for key in sorted(set(raw) - set(known)):
        problems.append(f"unknown key {prefix}{key!r} (allowed: {', '.join(sorted(known))})")
    for name, f in known.items():
        required = f.default is MISSING and f.default_factory is MISSING
        if required and name not in raw:
            problems.append(f"missing required key {prefix}{name!r}")
    return {k: v for k, v in raw.items() if k in known}
