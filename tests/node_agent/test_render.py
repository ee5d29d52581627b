"""The renderer: what a node's etc/ holds for each role, version and instance size."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import bcrypt
import pytest

from node_agent.contract import MANAGEMENT_USER, QUERYLOG_PATH, NodeSettings, Role, TlsSettings
from node_agent.render import (
    GIB,
    MIB,
    Layout,
    NodeFacts,
    RenderError,
    Secrets,
    heap_bytes,
    render,
)
from tests.node_agent.sample_settings import sample_node_settings

FACTS = NodeFacts(
    instance_id="i-0123456789abcdef0",
    instance_type="r6i.xlarge",
    private_ip="10.0.1.17",
    availability_zone="eu-west-1a",
    memory_bytes=32 * GIB,
)
SECRETS = Secrets(shared_secret="s3cret-shared")
LAYOUT = Layout()


def settings(**changes: object) -> NodeSettings:
    return replace(sample_node_settings(catalogs={"tpch": {"connector.name": "tpch"}}), **changes)


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_node_properties_name_the_instance_environment_and_data_dir() -> None:
    node = props(render(settings(), FACTS, Role.WORKER, LAYOUT, SECRETS)["node.properties"])
    assert node["node.id"] == "i-0123456789abcdef0"
    assert node["node.environment"] == "prod"
    assert node["node.data-dir"] == "/var/lib/trino"
    assert node["node.internal-address"] == "10.0.1.17"


@pytest.mark.parametrize(
    ("memory", "heap"),
    [
        (2304 * MIB, 1 * GIB),
        (8 * GIB, 5632 * MIB),
        (16 * GIB, 12 * GIB),
        (32 * GIB, 25344 * MIB),
        (64 * GIB, 51456 * MIB),
        (256 * GIB, 204 * GIB),
    ],
)
def test_heap_leaves_room_for_the_os_and_agent(memory: int, heap: int) -> None:
    assert heap_bytes(memory) == heap
    assert memory - heap >= 768 * MIB + memory // 5 - 256 * MIB


def test_heap_is_a_multiple_of_256_mib_and_grows_with_memory() -> None:
    sizes = [heap_bytes(m * GIB) for m in (4, 8, 16, 30, 61, 122, 244, 488)]
    assert all(h % (256 * MIB) == 0 for h in sizes)
    assert sizes == sorted(sizes)


def test_too_little_memory_is_refused_with_the_minimum() -> None:
    with pytest.raises(RenderError, match="at least 1601 MiB"):
        heap_bytes(1 * GIB)


def test_jvm_config_sets_the_heap_from_memory() -> None:
    jvm = render(settings(), FACTS, Role.WORKER, LAYOUT, SECRETS)["jvm.config"].splitlines()
    assert f"-Xmx{heap_bytes(FACTS.memory_bytes) // MIB}M" in jvm
    assert "-XX:+ExitOnOutOfMemoryError" in jvm


def test_trino_476_on_java_25_gets_the_flags_its_launcher_does_not_add() -> None:
    jvm = render(settings(trino_version=476), FACTS, Role.WORKER, LAYOUT, SECRETS)["jvm.config"].splitlines()
    for flag in (
        "--add-modules=jdk.incubator.vector",
        "--sun-misc-unsafe-memory-access=allow",
        "--enable-native-access=ALL-UNNAMED",
        "-XX:+EnableDynamicAgentLoading",
        "-Djdk.attach.allowAttachSelf=true",
    ):
        assert flag in jvm


def test_trino_483_leaves_the_java_25_access_flags_to_its_launcher() -> None:
    jvm = render(settings(trino_version=483), FACTS, Role.WORKER, LAYOUT, SECRETS)["jvm.config"].splitlines()
    assert "--add-modules=jdk.incubator.vector" in jvm
    assert "--sun-misc-unsafe-memory-access=allow" not in jvm


def test_prestosql_330_gets_no_java_24_flags() -> None:
    jvm = render(settings(trino_version=330), FACTS, Role.WORKER, LAYOUT, SECRETS)["jvm.config"]
    assert "--add-modules" not in jvm
    assert "--sun-misc-unsafe-memory-access" not in jvm


def test_worker_config_points_at_the_coordinator_eni_and_drains_gracefully() -> None:
    config = props(render(settings(), FACTS, Role.WORKER, LAYOUT, SECRETS)["config.properties"])
    assert config["coordinator"] == "false"
    assert config["discovery.uri"] == "http://10.0.0.10:8080"
    assert config["shutdown.grace-period"] == "120s"
    assert config["internal-communication.shared-secret"] == "s3cret-shared"


def test_coordinator_does_not_schedule_work_on_itself() -> None:
    config = props(render(settings(), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)["config.properties"])
    assert config["coordinator"] == "true"
    assert config["node-scheduler.include-coordinator"] == "false"
    assert config["discovery.uri"] == "http://10.0.0.10:8080"


def test_query_memory_per_node_is_thirty_percent_of_the_heap() -> None:
    config = props(render(settings(), FACTS, Role.WORKER, LAYOUT, SECRETS)["config.properties"])
    heap_mb = heap_bytes(FACTS.memory_bytes) // MIB
    assert config["query.max-memory-per-node"] == f"{int(heap_mb * 0.3)}MB"
    assert config["memory.heap-headroom-per-node"] == f"{int(heap_mb * 0.3)}MB"


def test_layout_moves_ports_dirs_and_discovery() -> None:
    layout = Layout(
        etc_dir=Path("/tmp/w1/etc"),
        data_dir=Path("/tmp/w1/data"),
        http_port=18081,
        discovery_uri="http://127.0.0.1:18080",
    )
    files = render(settings(), FACTS, Role.WORKER, layout, SECRETS)
    config = props(files["config.properties"])
    assert config["http-server.http.port"] == "18081"
    assert config["discovery.uri"] == "http://127.0.0.1:18080"
    assert props(files["node.properties"])["node.data-dir"] == "/tmp/w1/data"
    assert props(files["access-control.properties"])["security.config-file"] == "/tmp/w1/etc/rules.json"


def test_only_the_management_user_may_write_system_information() -> None:
    rules = json.loads(render(settings(), FACTS, Role.WORKER, LAYOUT, SECRETS)["rules.json"])
    entries = rules["system_information"]
    assert entries[0] == {"user": MANAGEMENT_USER, "allow": ["read", "write"]}
    others = [e for e in entries if "user" not in e]
    assert others == [{"allow": ["read"]}]


def test_catalog_access_is_left_open_to_ordinary_users() -> None:
    rules = json.loads(render(settings(), FACTS, Role.WORKER, LAYOUT, SECRETS)["rules.json"])
    assert set(rules) == {"system_information"}


def test_access_control_is_on_every_node() -> None:
    for role in Role:
        files = render(settings(), FACTS, role, LAYOUT, SECRETS)
        assert props(files["access-control.properties"])["access-control.name"] == "file"


def test_coordinator_sends_completed_queries_to_the_local_agent() -> None:
    layout = Layout(querylog_port=18089)
    files = render(settings(), FACTS, Role.COORDINATOR, layout, SECRETS)
    listener = props(files["http-event-listener.properties"])
    assert listener["event-listener.name"] == "http"
    assert listener["http-event-listener.log-completed"] == "true"
    assert listener["http-event-listener.connect-ingest-uri"] == f"http://127.0.0.1:18089{QUERYLOG_PATH}"
    assert int(listener["http-event-listener.connect-retry-count"]) >= 3
    assert "http-event-listener.log-split" not in listener
    config = props(files["config.properties"])
    assert config["event-listener.config-files"] == "/etc/trino/http-event-listener.properties"


def test_the_output_stage_json_trino_may_grow_to_16_mb_is_rendered_at_its_minimum() -> None:
    """Trino never resends an event the agent refuses as too large (413)."""
    files = render(settings(), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)
    assert props(files["config.properties"])["event.max-output-stage-size"] == "1kB"


def test_prestosql_350_has_no_http_event_listener() -> None:
    files = render(settings(trino_version=350), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)
    assert "http-event-listener.properties" not in files
    assert "event-listener.config-files" not in props(files["config.properties"])


def test_coordinators_up_to_358_enable_the_discovery_server() -> None:
    old = props(
        render(settings(trino_version=358), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)["config.properties"]
    )
    new = props(
        render(settings(trino_version=359), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)["config.properties"]
    )
    assert old["discovery-server.enabled"] == "true"
    assert "discovery-server.enabled" not in new


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.WORKER])
@pytest.mark.parametrize("version", [477, 479, 483])
def test_from_477_every_node_announces_itself_to_the_coordinator_address(role: Role, version: int) -> None:
    """477+ knows only nodes that announced to it; workers announce to discovery.uri every 5 s."""
    config = props(render(settings(trino_version=version), FACTS, role, LAYOUT, SECRETS)["config.properties"])
    assert config["discovery.type"] == "announce"
    assert config["discovery.uri"] == "http://10.0.0.10:8080"
    assert "discovery-server.enabled" not in config


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.WORKER])
def test_before_477_no_discovery_type_is_rendered(role: Role) -> None:
    config = props(render(settings(trino_version=476), FACTS, role, LAYOUT, SECRETS)["config.properties"])
    assert "discovery.type" not in config


def test_versions_before_369_also_cap_total_memory_per_node() -> None:
    old = props(render(settings(trino_version=368), FACTS, Role.WORKER, LAYOUT, SECRETS)["config.properties"])
    new = props(render(settings(trino_version=369), FACTS, Role.WORKER, LAYOUT, SECRETS)["config.properties"])
    assert old["query.max-total-memory-per-node"] == old["query.max-memory-per-node"]
    assert "query.max-total-memory-per-node" not in new


def test_prestosql_uses_its_own_log_namespace() -> None:
    assert render(settings(trino_version=350), FACTS, Role.WORKER, LAYOUT, SECRETS)["log.properties"] == (
        "io.prestosql=INFO\n"
    )
    assert render(settings(trino_version=351), FACTS, Role.WORKER, LAYOUT, SECRETS)["log.properties"] == (
        "io.trino=INFO\n"
    )


def test_prestosql_330_gets_neither_file_rules_nor_a_shared_secret_it_would_not_know() -> None:
    files = render(settings(trino_version=330), FACTS, Role.WORKER, LAYOUT, SECRETS)
    assert "rules.json" not in files
    assert "internal-communication.shared-secret" not in props(files["config.properties"])


def test_spill_goes_under_the_data_dir() -> None:
    config = props(
        render(settings(spill_enabled=True), FACTS, Role.WORKER, LAYOUT, SECRETS)["config.properties"]
    )
    assert config["spill-enabled"] == "true"
    assert config["spiller-spill-path"] == "/var/lib/trino/spill"


def test_task_retries_render_an_s3_exchange_manager_on_every_node() -> None:
    s = settings(retry_policy="TASK", exchange_bucket="analytics-exchange")
    for role in Role:
        files = render(s, FACTS, role, LAYOUT, SECRETS)
        assert props(files["config.properties"])["retry-policy"] == "TASK"
        exchange = props(files["exchange-manager.properties"])
        assert exchange["exchange-manager.name"] == "filesystem"
        assert exchange["exchange.base-directories"] == "s3://analytics-exchange"
        assert exchange["exchange.s3.region"] == "eu-west-1"


def test_task_retries_without_a_bucket_are_refused() -> None:
    with pytest.raises(RenderError, match="exchange_bucket"):
        render(settings(retry_policy="TASK"), FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_retries_before_369_are_refused_naming_the_version() -> None:
    with pytest.raises(RenderError, match=r"369.*PrestoSQL 350|PrestoSQL 350.*369"):
        render(settings(trino_version=350, retry_policy="QUERY"), FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_catalogs_are_rendered_one_file_each_connector_first() -> None:
    s = settings(catalogs={"memory": {"memory.max-data-per-node": "64MB", "connector.name": "memory"}})
    files = render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)
    assert files["catalog/memory.properties"] == "connector.name=memory\nmemory.max-data-per-node=64MB\n"


def test_catalog_without_connector_is_refused() -> None:
    with pytest.raises(RenderError, match=r"catalog 'hive': connector\.name is required"):
        render(settings(catalogs={"hive": {"hive.metastore": "glue"}}), FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_catalog_property_renamed_in_477_is_refused_with_its_replacement() -> None:
    s = settings(
        trino_version=477, catalogs={"hive": {"connector.name": "hive", "s3.socket-read-timeout": "5s"}}
    )
    with pytest.raises(RenderError, match=r"s3.socket-read-timeout.*Trino 477.*s3.socket-timeout"):
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_override_wins_over_the_rendered_value() -> None:
    s = settings(config_overrides={"shutdown.grace-period": "10s", "query.max-memory": "4GB"})
    config = props(render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)["config.properties"])
    assert config["shutdown.grace-period"] == "10s"
    assert config["query.max-memory"] == "4GB"


def test_override_removed_in_369_names_property_version_and_replacement() -> None:
    s = settings(trino_version=476, config_overrides={"query.max-total-memory-per-node": "2GB"})
    with pytest.raises(RenderError) as caught:
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)
    message = str(caught.value)
    assert "query.max-total-memory-per-node" in message
    assert "Trino 476" in message
    assert "query.max-memory-per-node" in message


def test_override_of_a_defunct_spill_alias_names_the_new_name() -> None:
    s = settings(trino_version=420, config_overrides={"experimental.spill-enabled": "true"})
    with pytest.raises(RenderError, match=r"experimental.spill-enabled.*Trino 420.*use spill-enabled"):
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_override_added_later_is_refused_on_an_older_version() -> None:
    s = settings(trino_version=476, config_overrides={"retry-policy.allowed": "QUERY"})
    with pytest.raises(RenderError, match=r"retry-policy.allowed.*Trino 476.*accepted from 478"):
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_override_of_a_managed_property_says_what_to_change() -> None:
    s = settings(config_overrides={"discovery.uri": "http://elsewhere:8080"})
    with pytest.raises(RenderError, match="coordinator_address"):
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_override_with_a_line_break_is_refused() -> None:
    s = settings(config_overrides={"query.max-memory": "4GB\ncoordinator=true"})
    with pytest.raises(RenderError, match="line break"):
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)


@pytest.mark.parametrize("version", [329, 484])
def test_versions_outside_330_to_483_are_refused(version: int) -> None:
    with pytest.raises(RenderError, match=r"330.*483"):
        render(settings(trino_version=version), FACTS, Role.WORKER, LAYOUT, SECRETS)


@pytest.mark.parametrize("version", [330, 350, 351, 358, 363, 369, 414, 476, 477, 479, 483])
def test_every_supported_version_renders_for_both_roles(version: int) -> None:
    for role in Role:
        files = render(settings(trino_version=version), FACTS, role, LAYOUT, SECRETS)
        assert {"node.properties", "jvm.config", "config.properties", "log.properties"} <= set(files)


def test_same_input_renders_the_same_bytes() -> None:
    a = render(settings(), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)
    b = render(settings(), FACTS, Role.COORDINATOR, LAYOUT, SECRETS)
    assert a == b


def test_invalid_environment_is_refused() -> None:
    with pytest.raises(RenderError, match="environment 'Prod-1'"):
        render(settings(environment="Prod-1"), FACTS, Role.WORKER, LAYOUT, SECRETS)


# --- TLS -----------------------------------------------------------------------------------------
TLS = TlsSettings(
    enabled=True,
    authentication="password",
    keystore_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:keystore",
    password_file_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:users",
    management_password_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:agent",
)
TLS_SECRETS = Secrets(
    shared_secret="s3cret-shared",
    management_password="agent-pw",
    keystore_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    password_file="alice:$2y$10$abcdefghijklmnopqrstuu5Vx0Q6o4qH3n0xNUEGqK8b2b8eTq6wS\n",
)


def test_tls_coordinator_serves_https_from_the_secret_keystore() -> None:
    files = render(settings(tls=TLS), FACTS, Role.COORDINATOR, LAYOUT, TLS_SECRETS)
    config = props(files["config.properties"])
    assert config["http-server.https.enabled"] == "true"
    assert config["http-server.https.port"] == "8443"
    assert config["http-server.https.keystore.path"] == "/etc/trino/secrets/keystore.pem"
    assert files["secrets/keystore.pem"] == TLS_SECRETS.keystore_pem


def test_tls_coordinator_requires_passwords_and_closes_the_http_loophole() -> None:
    files = render(settings(tls=TLS), FACTS, Role.COORDINATOR, LAYOUT, TLS_SECRETS)
    config = props(files["config.properties"])
    assert config["http-server.authentication.type"] == "PASSWORD"
    assert config["http-server.authentication.allow-insecure-over-http"] == "false"
    assert config["internal-communication.shared-secret"] == "s3cret-shared"
    assert "management.user" not in config
    authenticator = props(files["password-authenticator.properties"])
    assert authenticator == {
        "password-authenticator.name": "file",
        "file.password-file": "/etc/trino/secrets/password.db",
    }


def test_tls_password_file_lets_the_agent_log_in_with_its_own_password() -> None:
    files = render(settings(tls=TLS), FACTS, Role.COORDINATOR, LAYOUT, TLS_SECRETS)
    lines = dict(line.split(":", 1) for line in files["secrets/password.db"].splitlines())
    assert lines["alice"].startswith("$2y$10$")
    agent_hash = lines[MANAGEMENT_USER]
    assert agent_hash.startswith("$2y$10$")
    assert bcrypt.checkpw(b"agent-pw", ("$2b" + agent_hash[3:]).encode())
    assert not bcrypt.checkpw(b"wrong", ("$2b" + agent_hash[3:]).encode())


def test_tls_password_file_may_not_define_the_agent_itself() -> None:
    secrets = replace(TLS_SECRETS, password_file=f"{MANAGEMENT_USER}:$2y$10$x\n")
    with pytest.raises(RenderError, match="already has a line"):
        render(settings(tls=TLS), FACTS, Role.COORDINATOR, LAYOUT, secrets)


def test_tls_without_keystore_is_refused() -> None:
    with pytest.raises(RenderError, match="keystore"):
        render(settings(tls=TLS), FACTS, Role.COORDINATOR, LAYOUT, replace(TLS_SECRETS, keystore_pem=None))


def test_tls_workers_stay_on_the_shared_secret_and_file_rules() -> None:
    files = render(settings(tls=TLS), FACTS, Role.WORKER, LAYOUT, SECRETS)
    config = props(files["config.properties"])
    assert "http-server.https.enabled" not in config
    assert "http-server.authentication.type" not in config
    assert config["internal-communication.shared-secret"] == "s3cret-shared"
    assert "rules.json" in files


def test_internal_https_is_refused_with_a_reason() -> None:
    with pytest.raises(RenderError, match="internal_https"):
        render(settings(tls=replace(TLS, internal_https=True)), FACTS, Role.COORDINATOR, LAYOUT, TLS_SECRETS)


def test_discovery_server_flag_on_477_needs_airlift_discovery() -> None:
    s = settings(trino_version=477, config_overrides={"discovery-server.enabled": "true"})
    with pytest.raises(RenderError, match=r"discovery-server.enabled.*Trino 477.*airlift_discovery"):
        render(s, FACTS, Role.COORDINATOR, LAYOUT, SECRETS)


def test_discovery_server_flag_on_477_is_fine_with_airlift_discovery() -> None:
    overrides = {"discovery-server.enabled": "true", "discovery.type": "airlift_discovery"}
    config = props(
        render(
            settings(trino_version=477, config_overrides=overrides), FACTS, Role.COORDINATOR, LAYOUT, SECRETS
        )["config.properties"]
    )
    assert config["discovery.type"] == "airlift_discovery"


def test_discovery_type_before_477_is_refused() -> None:
    s = settings(trino_version=476, config_overrides={"discovery.type": "announce"})
    with pytest.raises(RenderError, match=r"discovery.type.*Trino 476.*accepted from 477"):
        render(s, FACTS, Role.WORKER, LAYOUT, SECRETS)


def test_an_unresolved_catalog_secret_reference_is_refused_rather_than_written() -> None:
    reference = "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:sales-AbCdEf"
    catalogs = {"sales": {"connector.name": "postgresql", "connection-password": reference}}
    with pytest.raises(RenderError, match=r"catalogs\.sales\.connection-password"):
        render(settings(catalogs=catalogs), FACTS, Role.WORKER, LAYOUT, SECRETS)
