"""The version table: which release first accepts, or first rejects, each property."""

from __future__ import annotations

import pytest

from node_agent.trino import versions


@pytest.mark.parametrize(
    ("name", "accepted", "rejected"),
    [
        ("query.max-total-memory-per-node", 368, 369),
        ("experimental.reserved-pool-disabled", 371, 372),
        ("experimental.spill-enabled", 368, 369),
        ("task.statistics-cpu-timer-enabled", 478, 479),
        ("enable-large-dynamic-filters", 479, 480),
        ("dynamic-filtering.small-broadcast.max-distinct-values-per-driver", 479, 480),
        ("s3.socket-read-timeout", 476, 477),
        ("s3.use-web-identity-token-credentials-provider", 482, 483),
        ("http-event-listener.log-split", 476, 477),
    ],
)
def test_removed_properties_are_rejected_from_their_removal_on(
    name: str, accepted: int, rejected: int
) -> None:
    assert versions.rejection(name, accepted) is None
    assert versions.rejection(name, rejected) is not None


@pytest.mark.parametrize(
    ("name", "rejected", "accepted"),
    [
        ("retry-policy", 368, 369),
        ("retry-policy.allowed", 477, 478),
        ("exchange-manager.config-file", 478, 479),
        ("discovery.type", 476, 477),
        ("management.user", 336, 337),
        ("http-event-listener.connect-http-method", 476, 477),
        ("http-event-listener.log-completed", 362, 363),
        ("s3.socket-timeout", 476, 477),
    ],
)
def test_added_properties_are_rejected_before_they_exist(name: str, rejected: int, accepted: int) -> None:
    assert versions.rejection(name, rejected) is not None
    assert versions.rejection(name, accepted) is None


def test_unknown_properties_are_left_to_trino() -> None:
    assert versions.rejection("query.max-memory", 330) is None
    assert versions.rejection("query.max-memory", 483) is None


def test_a_rename_names_its_replacement() -> None:
    message = versions.rejection("s3.socket-read-timeout", 480)
    assert message == (
        "property 's3.socket-read-timeout' is not accepted by Trino 480 (rejected from 477; renamed in 477); "
        "use s3.socket-timeout instead"
    )


def test_prestosql_versions_are_named_prestosql() -> None:
    assert versions.product_name(350) == "PrestoSQL"
    assert versions.product_name(351) == "Trino"
    assert "PrestoSQL 350" in str(versions.rejection("retry-policy", 350))


@pytest.mark.parametrize(
    ("version", "listener", "rules", "fte", "discovery_flag", "total_memory"),
    [
        (330, False, False, False, True, True),
        (337, False, True, False, True, True),
        (358, False, True, False, True, True),
        (359, False, True, False, False, True),
        (363, True, True, False, False, True),
        (369, True, True, True, False, False),
        (476, True, True, True, False, False),
        (483, True, True, True, False, False),
    ],
)
def test_feature_boundaries(
    version: int, listener: bool, rules: bool, fte: bool, discovery_flag: bool, total_memory: bool
) -> None:
    assert versions.has_http_event_listener(version) is listener
    assert versions.has_file_system_information_rules(version) is rules
    assert versions.has_fault_tolerant_execution(version) is fte
    assert versions.coordinator_needs_discovery_server_flag(version) is discovery_flag
    assert versions.has_total_memory_per_node(version) is total_memory


@pytest.mark.parametrize(("version", "flags"), [(475, 0), (476, 4), (478, 4), (479, 1), (483, 1)])
def test_java_flags_follow_the_launcher(version: int, flags: int) -> None:
    assert len(versions.jvm_flags_for_java(version)) == flags


@pytest.mark.parametrize("version", [329, 484])
def test_versions_outside_the_table_are_refused(version: int) -> None:
    with pytest.raises(ValueError, match="allowed: 330"):
        versions.check_version(version)
