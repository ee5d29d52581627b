"""`node-agent bootstrap` end to end: env file -> SSM -> Secrets Manager -> IMDSv2 -> etc/.

AWS is moto (in process); the instance metadata is FakeImds.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from node_agent import aws, etc_writer, node_config, render
from node_agent.bootstrap import command as bootstrap
from node_agent.contract import (
    MANAGEMENT_USER,
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    NodeSettings,
    Role,
    TlsSettings,
)
from node_agent.imds import Imds
from tests.node_agent.sample_settings import sample_node_settings
from tools.harness.certs import issue_certificate
from tools.harness.fakes import FakeImds, instance_metadata

REGION = "eu-west-1"
PARAMETER = "/presto-on-aws/analytics/node-settings"


@dataclass
class Node:
    root: Path
    imds: FakeImds
    env_file: Path
    meminfo: Path
    shared_secret_arn: str
    secretsmanager: object
    ssm: object

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    def settings(self, **changes: object) -> NodeSettings:
        base = sample_node_settings(
            shared_secret_arn=self.shared_secret_arn, catalogs={"tpch": {"connector.name": "tpch"}}
        )
        return replace(base, **changes)

    def publish(self, settings: NodeSettings | str) -> None:
        value = settings if isinstance(settings, str) else settings.to_json()
        self.ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Overwrite=True)  # type: ignore[attr-defined]

    def secret(self, name: str, value: str) -> str:
        return str(self.secretsmanager.create_secret(Name=name, SecretString=value)["ARN"])  # type: ignore[attr-defined]

    def password_tls(self) -> TlsSettings:
        """TLS with password users: the keystore, the users' file and the agent's password as secrets."""
        return TlsSettings(
            enabled=True,
            authentication="password",
            keystore_secret_arn=self.secret("analytics/keystore", CERTIFICATE),
            password_file_secret_arn=self.secret("analytics/users", "alice:$2y$10$x\n"),
            management_password_secret_arn=self.secret("analytics/agent", "agent-pw"),
        )

    def run(self, *extra: str) -> int:
        return bootstrap.main(
            [
                "--env-file",
                str(self.env_file),
                "--imds-url",
                self.imds.url,
                "--meminfo",
                str(self.meminfo),
                "--etc-dir",
                str(self.etc),
                "--data-dir",
                str(self.root / "data"),
                "--owner",
                "",
                *extra,
            ]
        )


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)
        arn = secretsmanager.create_secret(Name="analytics/shared", SecretString="s3cret-shared")["ARN"]
        env_file = tmp_path / "node.env"
        env_file.write_text(
            f"{NODE_ENV_SETTINGS_PARAMETER}={PARAMETER}\n{NODE_ENV_ROLE}=worker\n{NODE_ENV_REGION}={REGION}\n"
        )
        meminfo = tmp_path / "meminfo"
        meminfo.write_text("MemTotal:       16777216 kB\n")
        imds = FakeImds(instance_metadata("i-0123456789abcdef0"))
        try:
            yield Node(tmp_path, imds, env_file, meminfo, arn, secretsmanager, ssm)
        finally:
            imds.stop()


def props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_bootstrap_renders_the_node_from_ssm_secrets_and_imds(node: Node) -> None:
    node.publish(node.settings())
    assert node.run() == 0
    assert props(node.etc / "node.properties")["node.id"] == "i-0123456789abcdef0"
    assert props(node.etc / "node.properties")["node.internal-address"] == "10.0.1.17"
    config = props(node.etc / "config.properties")
    assert config["internal-communication.shared-secret"] == "s3cret-shared"
    assert config["coordinator"] == "false"
    assert "-Xmx12288M" in (node.etc / "jvm.config").read_text().splitlines()
    assert etc_writer.is_complete(node.etc)


def test_bootstrap_twice_gives_the_same_bytes(node: Node) -> None:
    node.publish(node.settings())
    assert node.run() == 0
    first = {p.name: p.read_bytes() for p in node.etc.resolve().rglob("*") if p.is_file()}
    assert node.run() == 0
    second = {p.name: p.read_bytes() for p in node.etc.resolve().rglob("*") if p.is_file()}
    assert first == second


def test_bootstrap_reports_its_render_as_one_json_line(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    node.publish(node.settings())
    node.run()
    line = json.loads(capsys.readouterr().out.strip())
    assert line["event"] == "rendered"
    assert "i-0123456789abcdef0" in line["message"]


def test_missing_parameter_fails_naming_it_and_writes_nothing(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    assert node.run() == bootstrap.EXIT_UNAVAILABLE
    assert PARAMETER in capsys.readouterr().err
    assert not node.etc.exists()


def test_invalid_settings_fail_naming_the_key(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    raw = json.loads(node.settings().to_json())
    raw["max_drain_hours"] = 4
    node.publish(json.dumps(raw))
    assert node.run() == bootstrap.EXIT_CONFIG
    assert "max_drain_hours" in capsys.readouterr().err
    assert not node.etc.exists()


def test_a_rejected_override_keeps_the_previous_render(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    node.publish(node.settings())
    assert node.run() == 0
    before = (node.etc / "config.properties").read_text()
    node.publish(node.settings(config_overrides={"query.max-total-memory-per-node": "4GB"}))
    assert node.run() == bootstrap.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "query.max-total-memory-per-node" in err and "Trino 476" in err
    assert (node.etc / "config.properties").read_text() == before


def test_unreadable_secret_fails_naming_the_setting(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.publish(node.settings(shared_secret_arn=f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope"))
    assert node.run() == bootstrap.EXIT_UNAVAILABLE
    assert "shared_secret_arn" in capsys.readouterr().err


def test_unreachable_imds_fails_after_retrying(
    node: Node, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap, "IMDS_ATTEMPTS", 2)
    node.publish(node.settings())
    node.imds.stop()
    assert node.run() == bootstrap.EXIT_UNAVAILABLE
    assert "IMDSv2" in capsys.readouterr().err
    assert not node.etc.exists()


def test_unreachable_imds_is_retried_with_a_capped_backoff_for_about_half_a_minute(tmp_path: Path) -> None:
    """The production schedule (IMDS_ATTEMPTS tries), with the waits recorded instead of slept."""
    imds = FakeImds(instance_metadata("i-0123456789abcdef0"))
    imds.stop()
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16777216 kB\n")
    waits: list[float] = []
    with pytest.raises(bootstrap.BootstrapError, match="IMDSv2") as failed:
        bootstrap.instance_facts(Imds(imds.url), meminfo, sleep=waits.append)
    assert failed.value.code == bootstrap.EXIT_UNAVAILABLE
    assert bootstrap.IMDS_ATTEMPTS == 10
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0]


def test_env_file_without_role_is_refused(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.env_file.write_text(f"{NODE_ENV_SETTINGS_PARAMETER}={PARAMETER}\n{NODE_ENV_REGION}={REGION}\n")
    assert node.run() == bootstrap.EXIT_CONFIG
    assert NODE_ENV_ROLE in capsys.readouterr().err


def test_env_file_with_an_unknown_role_names_the_allowed_ones(tmp_path: Path) -> None:
    env = tmp_path / "node.env"
    env.write_text(f"{NODE_ENV_SETTINGS_PARAMETER}=p\n{NODE_ENV_ROLE}=leader\n{NODE_ENV_REGION}=r\n")
    with pytest.raises(node_config.NodeConfigError, match="allowed: coordinator, worker"):
        node_config.read_env_file(env)


def test_env_file_accepts_quotes_and_comments(tmp_path: Path) -> None:
    env = tmp_path / "node.env"
    env.write_text(
        f'# written by user data\n{NODE_ENV_SETTINGS_PARAMETER}="p"\n{NODE_ENV_ROLE}=coordinator\n'
    )
    env.write_text(env.read_text() + f"{NODE_ENV_REGION}='eu-west-1'\n")
    assert node_config.read_env_file(env) == node_config.NodeEnv("p", Role.COORDINATOR, "eu-west-1")


def test_check_fails_until_a_complete_render_exists(node: Node) -> None:
    assert node.run("--check") == bootstrap.EXIT_CONFIG
    node.publish(node.settings())
    node.run()
    assert node.run("--check") == 0


def test_tls_coordinator_reads_its_keystore_and_password_secrets(node: Node) -> None:
    tls = node.password_tls()
    node.env_file.write_text(node.env_file.read_text().replace("=worker", "=coordinator"))
    node.publish(node.settings(tls=tls))
    assert node.run() == 0
    assert (node.etc / "secrets" / "keystore.pem").read_text() == CERTIFICATE
    users = (node.etc / "secrets" / "password.db").read_text()
    assert users.startswith("alice:") and f"\n{MANAGEMENT_USER}:$2y$10$" in users


def test_workers_do_not_fetch_the_coordinators_keystore(node: Node) -> None:
    tls = node.password_tls()
    secrets = node_config.load_secrets(node.settings(tls=tls), Role.WORKER)
    assert secrets.keystore_pem is None and secrets.password_file is None


def test_the_agent_talks_to_a_plain_node_over_loopback_http_as_the_management_user() -> None:
    admin = node_config.local_admin(
        sample_node_settings(), Role.WORKER, render.Layout(http_port=8080), render.Secrets("s")
    )
    assert admin.base_url == "http://127.0.0.1:8080"
    assert admin.user == MANAGEMENT_USER
    assert admin.password is None


def test_the_agent_uses_https_and_its_password_on_a_tls_coordinator() -> None:
    settings = sample_node_settings(tls=TlsSettings(enabled=True, authentication="password"))
    secrets = render.Secrets("s", management_password="agent-pw", keystore_pem=CERTIFICATE + PRIVATE_KEY)
    admin = node_config.local_admin(settings, Role.COORDINATOR, render.Layout(https_port=8443), secrets)
    assert admin.base_url == "https://127.0.0.1:8443"
    assert admin.password == "agent-pw"


def test_the_pinned_context_trusts_the_keystore_certificate_without_a_host_name_check() -> None:
    context = node_config.pinned_context(CERTIFICATE + PRIVATE_KEY)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert not context.check_hostname
    assert context.cert_store_stats()["x509"] == 1
    assert context.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN


def test_a_keystore_without_certificate_is_refused() -> None:
    with pytest.raises(node_config.NodeConfigError, match="no certificate"):
        node_config.pinned_context(PRIVATE_KEY)


CERTIFICATE, PRIVATE_KEY = issue_certificate(
    "trino.test", dns_names=["trino.test"], ip_addresses=["10.0.0.10"]
)


def test_a_log_shipping_fault_is_reported_but_does_not_stop_the_render(
    node: Node, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctl = tmp_path / "stand-in-amazon-cloudwatch-agent-ctl"
    ctl.write_text("#!/bin/sh\nexit 0\n")
    ctl.chmod(0o755)
    node.publish(node.settings(log_groups={"SERVER": "/presto-on-aws/test/server"}))
    assert node.run("--cloudwatch-ctl", str(ctl)) == 0
    captured = capsys.readouterr()
    rendered = json.loads(captured.out.strip())
    assert rendered["logs"].startswith("not shipped: cannot read the CloudWatch agent template")
    assert "Trino starts anyway" in captured.err
    assert etc_writer.is_complete(node.etc)


def test_off_the_ami_the_render_says_logs_are_not_shipped(
    node: Node, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node.publish(node.settings(log_groups={"SERVER": "/presto-on-aws/test/server"}))
    assert node.run("--cloudwatch-ctl", str(tmp_path / "absent-ctl")) == 0
    rendered = json.loads(capsys.readouterr().out.strip())
    assert "not installed" in rendered["logs"]


# --- catalog properties given as Secrets Manager references ----------------------------------


def sales_catalog(**properties: str) -> dict[str, dict[str, str]]:
    base = {"connector.name": "postgresql", "connection-url": "jdbc:postgresql://db/sales"}
    return {"tpch": {"connector.name": "tpch"}, "sales": {**base, **properties}}


def test_a_catalog_secret_reference_is_rendered_as_the_secrets_value(node: Node) -> None:
    arn = node.secret("analytics/sales-password", "pg-s3cret")
    node.publish(node.settings(catalogs=sales_catalog(**{"connection-password": f"secretsmanager:{arn}"})))
    assert node.run() == 0
    text = (node.etc / "catalog" / "sales.properties").read_text()
    assert props(node.etc / "catalog" / "sales.properties")["connection-password"] == "pg-s3cret"
    assert "secretsmanager:" not in text


def test_a_catalog_secret_reference_with_a_json_key_takes_that_field(node: Node) -> None:
    arn = node.secret("analytics/sales", json.dumps({"username": "reporting", "password": "pg-s3cret"}))
    catalogs = sales_catalog(
        **{
            "connection-user": f"secretsmanager:{arn}#username",
            "connection-password": f"secretsmanager:{arn}#password",
        }
    )
    node.publish(node.settings(catalogs=catalogs))
    assert node.run() == 0
    sales = props(node.etc / "catalog" / "sales.properties")
    assert (sales["connection-user"], sales["connection-password"]) == ("reporting", "pg-s3cret")


def test_a_missing_catalog_secret_fails_naming_the_property_and_keeps_the_previous_render(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    node.publish(node.settings())
    assert node.run() == 0
    before = sorted(p.name for p in (node.etc / "catalog").iterdir())
    missing = f"secretsmanager:arn:aws:secretsmanager:{REGION}:123456789012:secret:gone-AbCdEf"
    node.publish(node.settings(catalogs=sales_catalog(**{"connection-password": missing})))
    assert node.run() == bootstrap.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "catalogs.sales.connection-password" in err and "ResourceNotFoundException" in err
    assert sorted(p.name for p in (node.etc / "catalog").iterdir()) == before


def test_a_missing_json_key_fails_naming_the_property_and_the_key(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = node.secret("analytics/sales", json.dumps({"username": "reporting"}))
    node.publish(
        node.settings(catalogs=sales_catalog(**{"connection-password": f"secretsmanager:{arn}#password"}))
    )
    assert node.run() == bootstrap.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "catalogs.sales.connection-password" in err and "no JSON key 'password'" in err
    assert not node.etc.exists()


def test_a_json_key_on_a_plain_text_secret_fails_naming_the_property(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = node.secret("analytics/sales", "pg-s3cret")
    node.publish(
        node.settings(catalogs=sales_catalog(**{"connection-password": f"secretsmanager:{arn}#password"}))
    )
    assert node.run() == bootstrap.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "catalogs.sales.connection-password" in err and "is not a JSON object" in err
    assert "pg-s3cret" not in err


class FakeDenyingSecretsManager:
    """Moto does not enforce IAM, so this stand-in answers AccessDenied for one ARN."""

    def __init__(self, real: Any, denied: str) -> None:
        self.real = real
        self.denied = denied

    def get_secret_value(self, SecretId: str) -> Any:
        if SecretId == self.denied:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "GetSecretValue"
            )
        return self.real.get_secret_value(SecretId=SecretId)


def test_a_catalog_secret_the_role_may_not_read_fails_naming_the_property(
    node: Node, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = node.secret("analytics/other-team", "theirs")
    fake = FakeDenyingSecretsManager(node.secretsmanager, arn)
    real_client = aws.client
    monkeypatch.setattr(
        aws,
        "client",
        lambda service, region: fake if service == "secretsmanager" else real_client(service, region),
    )
    node.publish(node.settings(catalogs=sales_catalog(**{"connection-password": f"secretsmanager:{arn}"})))
    assert node.run() == bootstrap.EXIT_UNAVAILABLE
    err = capsys.readouterr().err
    assert "catalogs.sales.connection-password" in err and "AccessDeniedException" in err
    assert not node.etc.exists()
