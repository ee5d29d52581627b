"""What every agent command knows of its node: the env file, the settings, the secrets, and how
to reach its own Trino.

The node env file that user data wrote says which SSM parameter holds the node settings, which
role this node plays and which region it is in (no secrets); the settings name the secrets
(Secrets Manager). Bootstrap reads all of it at boot; the metrics, query-log and lifecycle agents
read what they need of it when they start. A failure is a NodeConfigError whose one line names
what was missing, and whose code says whether a retry may help.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path

from node_agent import aws, render
from node_agent.contract import (
    MANAGEMENT_USER,
    NODE_ENV_FILE,
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    SECRET_REFERENCE_PREFIX,
    NodeSettings,
    Role,
    SettingsError,
)
from node_agent.trino.admin import TrinoAdmin

EXIT_CONFIG = 2  # the inputs are wrong: retrying will not help
EXIT_UNAVAILABLE = 3  # something we depend on did not answer: a retry may help


class NodeConfigError(Exception):
    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class NodeEnv:
    settings_parameter: str
    role: Role
    region: str


def default_env_file() -> Path:
    return Path(NODE_ENV_FILE)


def read_env_file(path: Path) -> NodeEnv:
    """Parse the KEY=value file user data wrote (systemd EnvironmentFile syntax)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise NodeConfigError(f"cannot read node env file {path}: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise NodeConfigError(f"{path}:{number}: expected KEY=value, got {line!r}")
        values[key.strip()] = value.strip().strip('"').strip("'")
    missing = [k for k in (NODE_ENV_SETTINGS_PARAMETER, NODE_ENV_ROLE, NODE_ENV_REGION) if not values.get(k)]
    if missing:
        raise NodeConfigError(f"{path} lacks {', '.join(missing)}")
    try:
        role = Role(values[NODE_ENV_ROLE])
    except ValueError as exc:
        allowed = ", ".join(r.value for r in Role)
        raise NodeConfigError(
            f"{path}: {NODE_ENV_ROLE}={values[NODE_ENV_ROLE]!r} (allowed: {allowed})"
        ) from exc
    return NodeEnv(values[NODE_ENV_SETTINGS_PARAMETER], role, values[NODE_ENV_REGION])


def load_settings(env: NodeEnv) -> NodeSettings:
    try:
        text = aws.get_parameter(env.settings_parameter, env.region)
    except aws.AwsError as exc:
        raise NodeConfigError(str(exc), EXIT_UNAVAILABLE) from exc
    try:
        return NodeSettings.from_json(text)
    except SettingsError as exc:
        raise NodeConfigError(f"SSM parameter {env.settings_parameter}: {exc}") from exc


def load_secrets(settings: NodeSettings, role: Role) -> render.Secrets:
    """The secret values this node's render needs; a coordinator with TLS needs the most."""

    def secret(arn: str | None, what: str) -> str | None:
        if not arn:
            return None
        try:
            return aws.get_secret(arn, settings.region)
        except aws.AwsError as exc:
            raise NodeConfigError(f"{what}: {exc}", EXIT_UNAVAILABLE) from exc

    shared = secret(settings.shared_secret_arn, "shared_secret_arn")
    if not shared:
        raise NodeConfigError("shared_secret_arn is empty: every node needs the cluster's shared secret")
    tls = settings.tls
    on_tls_coordinator = role is Role.COORDINATOR and tls.enabled
    return render.Secrets(
        shared_secret=shared,
        management_password=secret(tls.management_password_secret_arn, "tls.management_password_secret_arn"),
        keystore_pem=secret(tls.keystore_secret_arn, "tls.keystore_secret_arn")
        if on_tls_coordinator
        else None,
        password_file=secret(tls.password_file_secret_arn, "tls.password_file_secret_arn")
        if on_tls_coordinator
        else None,
        catalog_values=catalog_secrets(settings),
    )


def catalog_secrets(settings: NodeSettings) -> dict[str, str]:
    """Resolve every `secretsmanager:<arn>[#key]` catalog value before anything is rendered.

    A reference that does not resolve stops the boot, naming the catalog property, so the
    previous render stays and Trino never sees the reference text in place of a credential.
    """
    values: dict[str, str] = {}
    for name in sorted(settings.catalogs):
        for key, reference in sorted(settings.catalogs[name].items()):
            if not reference.startswith(SECRET_REFERENCE_PREFIX) or reference in values:
                continue
            where = f"catalogs.{name}.{key}"
            arn, sep, json_key = reference[len(SECRET_REFERENCE_PREFIX) :].partition("#")
            try:
                text = aws.get_secret(arn, settings.region)
            except aws.AwsError as exc:
                raise NodeConfigError(f"{where}: {exc}", EXIT_UNAVAILABLE) from exc
            values[reference] = _json_field(text, json_key, where, arn) if sep else text
    return values


def _json_field(text: str, json_key: str, where: str, arn: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise NodeConfigError(f"{where}: secret {arn!r} is not a JSON object, so it has no key {json_key!r}")
    if json_key not in document:
        keys = ", ".join(sorted(document)) or "none"
        raise NodeConfigError(f"{where}: secret {arn!r} has no JSON key {json_key!r} (keys: {keys})")
    value = document[json_key]
    if isinstance(value, dict | list) or value is None:
        raise NodeConfigError(f"{where}: JSON key {json_key!r} of secret {arn!r} is not a scalar value")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- how the agent reaches its own Trino -----------------------------------------------------
def local_admin(
    settings: NodeSettings,
    role: Role,
    layout: render.Layout,
    secrets: render.Secrets,
    *,
    timeout: float = 10.0,
) -> TrinoAdmin:
    """A TrinoAdmin for this node's Trino, as the management user.

    Plain nodes: HTTP on loopback with X-Trino-User (file rules decide what that user may do).
    A TLS coordinator with passwords refuses identity over HTTP, so the agent uses HTTPS on
    loopback with its own password; it trusts exactly the cluster's certificate (the PEM bootstrap
    rendered) and skips the host name check, which cannot match 127.0.0.1.
    """
    if role is Role.COORDINATOR and settings.tls.enabled and settings.tls.authentication == "password":
        if not secrets.keystore_pem or not secrets.management_password:
            raise NodeConfigError("a TLS coordinator needs its keystore and the management password")
        return TrinoAdmin(
            f"https://127.0.0.1:{layout.https_port}",
            password=secrets.management_password,
            timeout=timeout,
            ssl_context=pinned_context(secrets.keystore_pem),
        )
    return TrinoAdmin(f"http://127.0.0.1:{layout.http_port}", user=MANAGEMENT_USER, timeout=timeout)


def pinned_context(keystore_pem: str) -> ssl.SSLContext:
    """Trust only the certificates in the cluster's keystore, without a host name check."""
    marker_begin, marker_end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    certificates = [
        marker_begin + block.split(marker_end)[0] + marker_end + "\n"
        for block in keystore_pem.split(marker_begin)[1:]
    ]
    if not certificates:
        raise NodeConfigError("the keystore PEM holds no certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the chain's own certs are the anchors
    try:
        context.load_verify_locations(cadata="".join(certificates))
    except ssl.SSLError as exc:
        raise NodeConfigError(f"the keystore's certificates do not load: {exc}") from exc
    return context
