"""Turn the cluster's node settings and this instance's facts into Trino's etc/ directory.

Pure: the same settings, facts, role, layout and secrets give the same bytes, so a reboot or a
second bootstrap changes nothing, and tests can assert on the output without a machine. Every
property that depends on the Trino version goes through `node_agent.trino.versions`, so what we write
boots on the chosen version, and a user override that version would reject fails here (RenderError)
instead of in Trino's log at 3 a.m.

Security model (see README, "Security"):
- Every node: file-based access control in which only contract.MANAGEMENT_USER may write system
  information (graceful shutdown); everyone may still read it and query every catalog.
  Internal traffic is authenticated with the shared secret from Secrets Manager.
- TLS coordinator: HTTPS with the PEM keystore from Secrets Manager and password authentication.
  Plain HTTP stays open for internal traffic only (allow-insecure-over-http=false), so nobody can
  skip the password by using the HTTP port. The management user gets a line in the password file
  (its password is its own secret), so the agent authenticates like any client: Basic auth over
  HTTPS for /metrics, form login over HTTPS for /ui/api/stats. `management.user` is deliberately
  NOT used: it would hand management rights to anyone who can reach the HTTP port.
- Workers keep the insecure authenticator (the agent sends X-Trino-User from the node itself) and
  are reachable only from the cluster's security groups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from node_agent import heapdumps
from node_agent.contract import (
    MANAGEMENT_USER,
    QUERYLOG_PATH,
    QUERYLOG_PORT,
    TRINO_DATA,
    TRINO_ETC,
    TRINO_HTTP_PORT,
    TRINO_HTTPS_PORT,
    NodeSettings,
    Role,
)
from node_agent.trino import versions
from node_agent.trino.properties import RenderError, catalog_text, properties_text, resolved_catalog
from node_agent.trino.security import PasswordFileError, access_rules, password_file_with_agent

MIB = 1024 * 1024
GIB = 1024 * MIB
OS_AND_AGENT_RESERVE = 768 * MIB  # kernel, sshd, CloudWatch agent, node-agent services
NATIVE_FRACTION = 0.20  # JVM off-heap (code cache, metaspace, direct buffers) and page cache
HEAP_GRANULE = 256 * MIB
MIN_HEAP = 512 * MIB
QUERY_MEMORY_FRACTION = 0.30  # of the heap, per node; Trino's own default since 369

# Properties the renderer derives from settings, facts or secrets; overriding them would break the
# node's identity or its security, so an override names the setting to change instead.
MANAGED = {
    "coordinator": "the node's role",
    "node.id": "the instance id",
    "node.environment": "settings.environment",
    "node.data-dir": "Layout.data_dir",
    "discovery.uri": "settings.coordinator_address (or Layout.discovery_uri)",
    "internal-communication.shared-secret": "the shared secret in Secrets Manager",
    "http-server.https.keystore.path": "settings.tls.keystore_secret_arn",
    "http-server.authentication.type": "settings.tls.authentication",
    "access-control.name": "the renderer's file-based access control",
    "security.config-file": "the renderer's file-based access control",
    "event-listener.config-files": "the renderer's HTTP event listener",
}


@dataclass(frozen=True)
class NodeFacts:
    """What IMDSv2 and /proc/meminfo say about this instance."""

    instance_id: str
    instance_type: str
    private_ip: str
    availability_zone: str
    memory_bytes: int


@dataclass(frozen=True)
class Layout:
    """Where this node's files and ports are; the defaults are a real node's."""

    etc_dir: Path = Path(TRINO_ETC)
    data_dir: Path = Path(TRINO_DATA)
    http_port: int = TRINO_HTTP_PORT
    https_port: int = TRINO_HTTPS_PORT
    querylog_port: int = QUERYLOG_PORT
    discovery_uri: str | None = None  # None -> http(s)://<coordinator_address>:<port>


@dataclass(frozen=True)
class Secrets:
    """Secret values resolved from Secrets Manager by bootstrap (never in settings or user data)."""

    shared_secret: str
    management_password: str | None = None
    keystore_pem: str | None = None
    password_file: str | None = None
    # Each catalog reference (`secretsmanager:<arn>[#key]`, exactly as in the settings) -> its value.
    catalog_values: Mapping[str, str] = field(default_factory=dict)


# --- sizing --------------------------------------------------------------------------------------
def heap_bytes(memory_bytes: int) -> int:
    """Heap for a node with this much RAM: 80% minus a fixed OS/agent reserve, in 256 MiB steps.

    The 20% covers what the JVM uses beside the heap (Trino's direct buffers, code cache,
    metaspace, thread stacks) and some page cache; the fixed part keeps small instances alive.
    Examples: 2304 MiB -> 1 GiB, 16 GiB -> 12 GiB, 64 GiB -> 50.25 GiB, 256 GiB -> 204 GiB.
    """
    usable = int(memory_bytes * (1 - NATIVE_FRACTION)) - OS_AND_AGENT_RESERVE
    heap = usable // HEAP_GRANULE * HEAP_GRANULE
    if heap < MIN_HEAP:
        smallest = int((MIN_HEAP + OS_AND_AGENT_RESERVE) / (1 - NATIVE_FRACTION)) // MIB + 1
        raise RenderError(
            f"memory_bytes {memory_bytes} ({memory_bytes // MIB} MiB) leaves less than "
            f"{MIN_HEAP // MIB} MiB of heap; a node needs at least {smallest} MiB of RAM"
        )
    return heap


def _size(value: int) -> str:
    return f"{value // MIB}MB"


# --- the renderer --------------------------------------------------------------------------------
def render(
    settings: NodeSettings, facts: NodeFacts, role: Role, layout: Layout, secrets: Secrets
) -> dict[str, str]:
    """All files of etc/ for this node: relative path -> content."""
    version = settings.trino_version
    try:
        versions.check_version(version)
    except ValueError as exc:
        raise RenderError(str(exc)) from exc
    role = Role(role)
    problems = _settings_problems(settings, secrets, role, version)
    heap = heap_bytes(facts.memory_bytes)
    etc = layout.etc_dir

    files: dict[str, str] = {
        "node.properties": properties_text(_node_properties(settings, facts, layout), "node.properties"),
        "jvm.config": _jvm_config(version, heap, layout),
        "log.properties": properties_text({versions.log_namespace(version): "INFO"}, "log.properties"),
    }
    config = _config_properties(settings, role, layout, heap, secrets)
    if versions.has_file_system_information_rules(version):
        files["access-control.properties"] = properties_text(
            {"access-control.name": "file", "security.config-file": str(etc / "rules.json")},
            "access-control.properties",
        )
        files["rules.json"] = access_rules()
    if role is Role.COORDINATOR and versions.has_http_event_listener(version):
        listener = _http_event_listener(layout)
        files["http-event-listener.properties"] = properties_text(listener, "http-event-listener.properties")
        config["event-listener.config-files"] = str(etc / "http-event-listener.properties")
        config["event.max-output-stage-size"] = MAX_OUTPUT_STAGE_SIZE
    exchange = _exchange_manager(settings)
    if exchange:
        files["exchange-manager.properties"] = properties_text(exchange, "exchange-manager.properties")
    if role is Role.COORDINATOR and settings.tls.enabled and not problems:
        files.update(_tls_files(settings, secrets, layout))
        config.update(_tls_config(settings, layout))

    for name in sorted(settings.config_overrides):
        value = settings.config_overrides[name]
        if name in MANAGED:
            problems.append(
                f"config_overrides: {name!r} is set by the renderer from {MANAGED[name]}; change that instead"
            )
        elif versions.rejection(name, version):
            problems.append(f"config_overrides: {versions.rejection(name, version)}")
        else:
            config[name] = str(value)
    problems.extend(_discovery_server_problems(config, version))
    for name in config:
        if name not in settings.config_overrides and versions.rejection(name, version):
            problems.append(f"config.properties: {versions.rejection(name, version)}")
    for path, make in [("config.properties", lambda: properties_text(config, "config.properties"))] + [
        (
            f"catalog/{name}.properties",
            lambda name=name: catalog_text(
                name, resolved_catalog(name, settings.catalogs[name], secrets.catalog_values), version
            ),
        )
        for name in sorted(settings.catalogs)
    ]:
        try:
            files[path] = make()
        except RenderError as error:
            problems.extend(error.problems)
    if problems:
        raise RenderError("; ".join(problems), problems)
    return dict(sorted(files.items()))


def _discovery_server_problems(config: dict[str, str], version: int) -> list[str]:
    """From 477 on, the embedded discovery server exists only with discovery.type=airlift_discovery."""
    airlift = config.get("discovery.type") == "airlift_discovery"
    if version >= 477 and "discovery-server.enabled" in config and not airlift:
        return [
            f"config_overrides: 'discovery-server.enabled' is accepted by Trino {version} only together "
            "with discovery.type=airlift_discovery (the default, announce, needs neither)"
        ]
    return []


def _settings_problems(settings: NodeSettings, secrets: Secrets, role: Role, version: int) -> list[str]:
    """Every reason the settings cannot be rendered for this role and version."""
    product = f"{versions.product_name(version)} {version}"
    problems = []
    if not re.match(r"^[a-z0-9_]+$", settings.environment):
        problems.append(
            f"environment {settings.environment!r} is not valid (lowercase letters, digits and _ only)"
        )
    if not secrets.shared_secret:
        problems.append("the shared secret is empty; the node cannot join the cluster without it")
    policy = settings.retry_policy
    if policy not in ("NONE", "QUERY", "TASK"):
        problems.append(f"retry_policy {policy!r} is not valid (allowed: NONE, QUERY, TASK)")
    elif policy != "NONE" and not versions.has_fault_tolerant_execution(version):
        problems.append(f"retry_policy {policy} needs fault-tolerant execution (369+), not {product}")
    if policy == "TASK" and not settings.exchange_bucket:
        problems.append("retry_policy TASK needs exchange_bucket (an S3 bucket for the exchange manager)")
    tls = settings.tls
    if tls.internal_https:
        problems.append(
            "tls.internal_https is not supported: internal traffic is authenticated with the shared "
            "secret and stays inside the cluster's security groups; set tls.internal_https to false"
        )
    if tls.authentication not in ("none", "password"):
        problems.append(f"tls.authentication {tls.authentication!r} is not valid (allowed: none, password)")
    if tls.authentication == "password" and not tls.enabled:
        problems.append("tls.authentication 'password' needs tls.enabled (passwords only travel over HTTPS)")
    if tls.enabled and role is Role.COORDINATOR:
        if version < 337:
            problems.append(f"tls.enabled needs 337 or newer (management user and rules), not {product}")
        if not secrets.keystore_pem:
            problems.append("tls.enabled but no keystore: set tls.keystore_secret_arn (PEM chain + key)")
        if tls.authentication == "password" and not (secrets.password_file and secrets.management_password):
            problems.append(
                "tls.authentication 'password' needs both tls.password_file_secret_arn and "
                "tls.management_password_secret_arn (the agent logs in as " + MANAGEMENT_USER + ")"
            )
    return problems


def _node_properties(settings: NodeSettings, facts: NodeFacts, layout: Layout) -> dict[str, str]:
    return {
        "node.environment": settings.environment,
        "node.id": facts.instance_id,
        "node.data-dir": str(layout.data_dir),
        "node.internal-address": facts.private_ip,
    }


def _jvm_config(version: int, heap: int, layout: Layout) -> str:
    code_cache = "512M" if heap >= 4 * GIB else "256M"
    flags = [
        "-server",
        f"-Xmx{heap // MIB}M",
        "-XX:+UseG1GC",
        "-XX:G1HeapRegionSize=32M",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:+HeapDumpOnOutOfMemoryError",
        f"-XX:HeapDumpPath={heapdumps.heap_dump_path(layout.data_dir)}",  # one file: see heapdumps
        "-XX:-OmitStackTraceInFastThrow",
        f"-XX:ReservedCodeCacheSize={code_cache}",
        "-XX:PerMethodRecompilationCutoff=10000",
        "-XX:PerBytecodeRecompilationCutoff=10000",
        "-Djdk.attach.allowAttachSelf=true",
        "-Djdk.nio.maxCachedBufferSize=2000000",
        "-Dfile.encoding=UTF-8",
        *versions.jvm_flags_for_java(version),
    ]
    return "\n".join(flags) + "\n"


def discovery_uri(settings: NodeSettings, layout: Layout) -> str:
    """Where every node (the coordinator included) announces itself: the coordinator ENI."""
    if layout.discovery_uri:
        return layout.discovery_uri
    return f"http://{settings.coordinator_address}:{layout.http_port}"


def _config_properties(
    settings: NodeSettings, role: Role, layout: Layout, heap: int, secrets: Secrets
) -> dict[str, str]:
    version = settings.trino_version
    per_node = int(heap * QUERY_MEMORY_FRACTION) // MIB * MIB
    config: dict[str, str] = {
        "coordinator": "true" if role is Role.COORDINATOR else "false",
        "http-server.http.port": str(layout.http_port),
        "discovery.uri": discovery_uri(settings, layout),
        "query.max-memory-per-node": _size(per_node),
        "memory.heap-headroom-per-node": _size(per_node),
        "log.path": str(layout.data_dir / "var" / "log" / "server.log"),
    }
    if versions.has_total_memory_per_node(version):
        config["query.max-total-memory-per-node"] = _size(per_node)
    if versions.has_announce_discovery(version):
        # Rendered, not left to the default: the failover model needs workers to announce to the
        # coordinator address (discovery.uri) every few seconds, so that a new holder learns
        # them within seconds of a move; a standby that knows no workers is still healthy.
        config["discovery.type"] = "announce"
    if role is Role.COORDINATOR:
        config["node-scheduler.include-coordinator"] = "false"
        if versions.coordinator_needs_discovery_server_flag(version):
            config["discovery-server.enabled"] = "true"
    else:
        config["shutdown.grace-period"] = "120s"
    if version >= 337:
        config["internal-communication.shared-secret"] = secrets.shared_secret
    if settings.spill_enabled:
        config["spill-enabled"] = "true"
        config["spiller-spill-path"] = str(layout.data_dir / "spill")
    if settings.retry_policy != "NONE":
        config["retry-policy"] = settings.retry_policy
    return config


# The output stage's JSON (`metadata.payload` of a QueryCompletedEvent) may reach 16 MB by default;
# the query-log agent drops it, and Trino never resends an event the agent refused as too large
# (413). At Trino's minimum it is left out of nearly every event, which keeps events far below the
# agent's body cap (QuerylogConfig.max_body_bytes).
MAX_OUTPUT_STAGE_SIZE = "1kB"


def _http_event_listener(layout: Layout) -> dict[str, str]:
    return {
        "event-listener.name": "http",
        "http-event-listener.log-completed": "true",
        "http-event-listener.connect-ingest-uri": f"http://127.0.0.1:{layout.querylog_port}{QUERYLOG_PATH}",
        # The agent spools before it answers, so a refused POST means it is restarting: retry for
        # about a minute (1+2+4+8+16+30 s) before Trino drops the event.
        "http-event-listener.connect-retry-count": "6",
        "http-event-listener.connect-retry-delay": "1s",
        "http-event-listener.connect-backoff-base": "2",
        "http-event-listener.connect-max-delay": "30s",
    }


def _exchange_manager(settings: NodeSettings) -> dict[str, str] | None:
    bucket = settings.exchange_bucket
    if settings.retry_policy == "NONE" or not bucket:
        return None
    if bucket.startswith("/"):  # a shared local directory: single-machine rehearsals only
        return {"exchange-manager.name": "filesystem", "exchange.base-directories": bucket}
    base = bucket if bucket.startswith("s3://") else f"s3://{bucket}"
    return {
        "exchange-manager.name": "filesystem",
        "exchange.base-directories": base,
        "exchange.s3.region": settings.region,
    }


def _tls_config(settings: NodeSettings, layout: Layout) -> dict[str, str]:
    config = {
        "http-server.https.enabled": "true",
        "http-server.https.port": str(layout.https_port),
        "http-server.https.keystore.path": str(layout.etc_dir / "secrets" / "keystore.pem"),
    }
    if settings.tls.authentication == "password":
        config["http-server.authentication.type"] = "PASSWORD"
        config["http-server.authentication.allow-insecure-over-http"] = "false"
    return config


def _tls_files(settings: NodeSettings, secrets: Secrets, layout: Layout) -> dict[str, str]:
    assert secrets.keystore_pem is not None  # checked in _settings_problems
    files = {"secrets/keystore.pem": secrets.keystore_pem}
    if settings.tls.authentication == "password":
        assert secrets.password_file is not None and secrets.management_password is not None
        try:
            files["secrets/password.db"] = password_file_with_agent(
                secrets.password_file, secrets.management_password, secrets.shared_secret
            )
        except PasswordFileError as exc:
            raise RenderError(str(exc)) from exc
        files["password-authenticator.properties"] = properties_text(
            {
                "password-authenticator.name": "file",
                "file.password-file": str(layout.etc_dir / "secrets" / "password.db"),
            },
            "password-authenticator.properties",
        )
    return files
