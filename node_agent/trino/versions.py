"""Which Trino (and PrestoSQL) versions accept which configuration properties.

Airlift refuses to start on a property it does not know, and on one marked defunct, so a property
rendered for the wrong version takes the whole node down at boot. This table is the one place that
knows the renames and removals between PrestoSQL 330 and Trino 483 (see the project's trino-facts
§1, §4-§7); the renderer consults it both for what it writes itself and for user overrides, so an
override the chosen version would reject fails at render time with a message that names the
property, the version and what to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass

OLDEST_VERSION = 330  # PrestoSQL 330
NEWEST_VERSION = 483
FIRST_TRINO = 351  # PrestoSQL was renamed to Trino in 351 (packages io.prestosql -> io.trino)


@dataclass(frozen=True)
class PropertyRule:
    """A property's lifetime: accepted from `since` (inclusive) until `until` (exclusive)."""

    name: str  # exact name, or a prefix ending in "*"
    since: int | None = None
    until: int | None = None
    replacement: str | None = None
    why: str = ""

    def matches(self, name: str) -> bool:
        if self.name.endswith("*"):
            return name.startswith(self.name[:-1])
        return name == self.name

    def rejects(self, version: int) -> bool:
        too_old = self.since is not None and version < self.since
        too_new = self.until is not None and version >= self.until
        return too_old or too_new


RULES: tuple[PropertyRule, ...] = (
    # memory
    PropertyRule(
        "query.max-total-memory-per-node",
        until=369,
        replacement="query.max-memory-per-node",
        why="removed in 369 (user and total memory were merged)",
    ),
    PropertyRule(
        "experimental.reserved-pool-enabled",
        until=324,
        replacement="experimental.reserved-pool-disabled (until 371), nothing since 372",
        why="renamed in 324 with the meaning reversed",
    ),
    PropertyRule(
        "experimental.reserved-pool-disabled",
        until=372,
        replacement="none: the reserved pool no longer exists",
        why="removed in 372",
    ),
    # spill
    PropertyRule(
        "experimental.spill-enabled", until=369, replacement="spill-enabled", why="legacy alias, defunct"
    ),
    PropertyRule(
        "experimental.spiller-spill-path",
        until=369,
        replacement="spiller-spill-path",
        why="legacy alias, defunct",
    ),
    PropertyRule("experimental.spill-order-by", until=369, replacement="spill-enabled", why="removed in 369"),
    PropertyRule(
        "experimental.spill-window-operator", until=369, replacement="spill-enabled", why="removed in 369"
    ),
    PropertyRule("spill-order-by", until=369, replacement="spill-enabled", why="removed in 369"),
    PropertyRule("spill-window-operator", until=369, replacement="spill-enabled", why="removed in 369"),
    # fault-tolerant execution
    PropertyRule("retry-policy", since=369, why="fault-tolerant execution arrived in 369"),
    PropertyRule("retry-policy.allowed", since=478, replacement="retry-policy", why="added in 478"),
    PropertyRule("exchange-manager.config-file", since=479, why="added in 479"),
    # discovery
    PropertyRule(
        "discovery.type",
        since=477,
        replacement="nothing: before 477 the embedded discovery server is the only kind",
        why="added in 477",
    ),
    # security
    PropertyRule("management.user", since=337, why="added in 337"),
    PropertyRule("management.user.https-enabled", since=337, why="added in 337"),
    PropertyRule("http-server.authentication.allow-insecure-over-http", since=337, why="added in 337"),
    PropertyRule("internal-communication.shared-secret", since=337, why="not rendered before 337"),
    # removed in 476..483
    PropertyRule("enable-large-dynamic-filters", until=480, why="removed in 480"),
    PropertyRule("dynamic-filtering.small*", until=480, why="removed in 480"),
    PropertyRule("dynamic-filtering.large-broadcast*", until=480, why="removed in 480"),
    PropertyRule("task.statistics-cpu-timer-enabled", until=479, why="defunct since 479"),
    # catalogs (object storage)
    PropertyRule("s3.socket-read-timeout", until=477, replacement="s3.socket-timeout", why="renamed in 477"),
    PropertyRule("s3.socket-timeout", since=477, replacement="s3.socket-read-timeout", why="added in 477"),
    PropertyRule("s3.use-web-identity-token-credentials-provider", until=483, why="removed in 483"),
    # HTTP event listener
    PropertyRule("http-event-listener.log-split", until=477, why="removed in 477 with splitCompleted"),
    PropertyRule("http-event-listener.connect-http-method", since=477, why="added in 477"),
    PropertyRule("http-event-listener.*", since=363, why="the HTTP event listener arrived in 363"),
)


def check_version(version: int) -> None:
    if not OLDEST_VERSION <= version <= NEWEST_VERSION:
        raise ValueError(
            f"trino_version {version} is not supported "
            f"(allowed: {OLDEST_VERSION} (PrestoSQL) .. {NEWEST_VERSION})"
        )


def rejection(name: str, version: int) -> str | None:
    """Why `version` would refuse the property `name`, or None when it accepts it."""
    for rule in RULES:
        if rule.matches(name) and rule.rejects(version):
            product = product_name(version)
            lifetime = _lifetime(rule)
            message = f"property {name!r} is not accepted by {product} {version} ({lifetime}; {rule.why})"
            if rule.replacement:
                message += f"; use {rule.replacement} instead"
            return message
    return None


def _lifetime(rule: PropertyRule) -> str:
    parts = []
    if rule.since is not None:
        parts.append(f"accepted from {rule.since}")
    if rule.until is not None:
        parts.append(f"rejected from {rule.until}")
    return ", ".join(parts)


def product_name(version: int) -> str:
    return "Trino" if version >= FIRST_TRINO else "PrestoSQL"


def log_namespace(version: int) -> str:
    """The Java package root, which log.properties levels are keyed by."""
    return "io.trino" if version >= FIRST_TRINO else "io.prestosql"


def has_http_event_listener(version: int) -> bool:
    return version >= 363


def has_openmetrics(version: int) -> bool:
    """Trino's own /metrics arrived in 407 (commit 7ece4d14739, JmxOpenMetricsModule)."""
    return version >= 407


def has_jmx_http(version: int) -> bool:
    """/v1/jmx/mbean (airlift JmxHttpModule) is served from PrestoSQL 330 until Trino 479; 480
    removed it (commit a2a219a73ed, "Do not expose JMX beans over http")."""
    return version < 480


def jmx_domains(version: int) -> tuple[str, ...]:
    """The JMX domain Trino's own beans are exported under, most likely first: `presto.*` in
    PrestoSQL (PrefixObjectNameGeneratorModule), `trino.*` after the rename."""
    return ("presto", "trino") if version < FIRST_TRINO else ("trino", "presto")


def has_file_system_information_rules(version: int) -> bool:
    """File access control learnt `system_information` rules (and management.user) in 337."""
    return version >= 337


def has_fault_tolerant_execution(version: int) -> bool:
    return version >= 369


def coordinator_needs_discovery_server_flag(version: int) -> bool:
    """`discovery-server.enabled` defaulted to false until 358 and must not be set from 477 on."""
    return version <= 358


def has_announce_discovery(version: int) -> bool:
    """477 replaced Airlift discovery with node inventories; `discovery.type=announce` is the default.

    The value is `announce` (NodeInventoryConfig.NodeInventoryType.ANNOUNCE, matched without
    case); the 477 release notes spell the third type `airlift-discovery`, the enum
    AIRLIFT_DISCOVERY. Announce: every node POSTs its URI to each `discovery.uri` every 5 s and a
    coordinator knows only the nodes that announced to it.
    """
    return version >= 477


def has_total_memory_per_node(version: int) -> bool:
    return version < 369


# The oldest Java major each release starts on: (first release, major), newest first. Sources:
# PrestoSQL 330 docs (Java 11); Trino release notes 390 ("minimum required Java version to
# 17.0.3"), 436 ("Require JDK 21.0.1"), 447 ("Require JDK 22"), 464 ("Require JDK 23"), 476
# ("Require JDK 24"), 479 ("Require JDK 25"). image/install.sh java_minimum is the same table.
JAVA_MINIMUM: tuple[tuple[int, int], ...] = (
    (479, 25),
    (476, 24),
    (464, 23),
    (447, 22),
    (436, 21),
    (390, 17),
    (OLDEST_VERSION, 11),
)


def java_minimum(version: int) -> int:
    """The oldest Java major this release starts on (TrinoSystemRequirements refuses older)."""
    check_version(version)
    return next(major for first, major in JAVA_MINIMUM if version >= first)


def jvm_flags_for_java(version: int) -> list[str]:
    """Flags the Java runtime of this Trino version needs that its launcher does not add itself.

    476-478 need Java 24+ and the AMI ships Java 25, for which launcher 304 adds nothing; 479+
    launchers add the module/access flags themselves, but the vector module stays (Trino checks for
    it at startup). Older versions run on the Java they require (see java_minimum), where none of
    these are needed.
    """
    if 476 <= version <= 478:
        return [
            "--add-modules=jdk.incubator.vector",
            "--sun-misc-unsafe-memory-access=allow",
            "--enable-native-access=ALL-UNNAMED",
            "-XX:+EnableDynamicAgentLoading",
        ]
    if version >= 479:
        return ["--add-modules=jdk.incubator.vector"]
    return []
