"""The Trino part of the stack config: version, catalogs and overrides, checked against the
version table the node agent renders with, so a value a node would refuse is refused here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from components.settings.connectors import connector_problem, property_problem
from components.settings.keys import (
    DEFAULT_TRINO,
    NEWEST_TRINO,
    OLDEST_TRINO,
)
from components.settings.model import TrinoSettings
from components.settings.reader import (
    ARN,
    BUCKET,
    CATALOG_NAME,
    CREDENTIAL_WORDS,
    PROPERTY,
    ConfigReader,
    matches,
    scalar_text,
)
from node_agent.contract import SECRET_REFERENCE_PREFIX
from node_agent.trino import versions

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
    "security.config-file": "the renderer's file-based access control (rules.json)",
    "event-listener.config-files": "the query log (elasticsearchUrl)",
    "spill-enabled": "the spillEnabled key",
    "retry-policy": "the retryPolicy key",
}


def thrift_uri(reader: ConfigReader) -> str | None:
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


def trino_settings(reader: ConfigReader) -> TrinoSettings:
    version = reader.integer("trinoVersion", DEFAULT_TRINO, OLDEST_TRINO, NEWEST_TRINO)
    metastore = reader.choice("metastore", ("none", "hive", "glue"), "none")
    uri = thrift_uri(reader)
    if metastore == "hive" and uri is None and not reader.has("hiveMetastoreUri"):
        reader.problem(
            "hiveMetastoreUri", "missing required key: metastore is hive (allowed: thrift://host:port)"
        )
    if metastore != "hive" and reader.has("hiveMetastoreUri"):
        reader.problem(
            "hiveMetastoreUri", f"is set but metastore is {metastore!r}; set metastore: hive or drop it"
        )
    retry = reader.choice("retryPolicy", ("NONE", "QUERY", "TASK"), "NONE")
    exchange = reader.string("exchangeBucket", BUCKET, "an S3 bucket name")
    if retry == "TASK" and not reader.has("exchangeBucket"):
        reader.problem(
            "exchangeBucket", "missing required key: retryPolicy TASK needs an S3 bucket for exchanges"
        )
    if retry != "NONE" and version < 369:
        reader.problem(
            "retryPolicy",
            f"{retry} needs fault-tolerant execution, which arrived in 369 (trinoVersion {version})",
        )
    catalogs = parse_catalogs(reader, metastore, version)
    return TrinoSettings(
        version=version,
        metastore=metastore,
        hive_metastore_uri=uri,
        data_buckets=reader.string_list("dataBuckets", matches(BUCKET)),
        catalogs=catalogs,
        config_overrides=parse_overrides(reader, version),
        spill_enabled=reader.boolean("spillEnabled", False),
        retry_policy=retry,
        exchange_bucket=exchange,
    )


def parse_catalogs(reader: ConfigReader, metastore: str, version: int) -> dict[str, dict[str, str]]:
    value = reader.structured("catalogs", dict)
    if value is None:
        return {}
    catalogs: dict[str, dict[str, str]] = {}
    for name, properties in value.items():
        where = f"catalog {name!r}"
        if not CATALOG_NAME.match(name):
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
        elif reason := connector_problem(scalar_text(properties["connector.name"]), version):
            reader.problem("catalogs", f"catalogs.{name}.connector.name: {reason}")
        bad = [
            k
            for k, v in properties.items()
            if isinstance(v, dict | list) or v is None or not PROPERTY.match(k)
        ]
        for key in bad:
            reader.problem("catalogs", f"{where}: property {key!r} must be a valid name with a scalar value")
        catalogs[name] = {k: scalar_text(v) for k, v in properties.items() if k not in bad}
        connector = catalogs[name].get("connector.name", "")
        for key, text in catalogs[name].items():
            check_catalog_value(reader, name, key, text)
            reason = version_rejection(key, version)
            if reason:  # says more than the table's "not a property": when it came or went
                reader.problem("catalogs", f"catalogs.{name}.{key}: {reason} (trinoVersion {version})")
            elif unknown := property_problem(connector, key, version):
                reader.problem("catalogs", f"catalogs.{name}.{key}: {unknown}")
            if has_line_break(text):
                reader.problem("catalogs", f"catalogs.{name}.{key}: {LINE_BREAK}")
    return catalogs


LINE_BREAK = "the value contains a line break, which a .properties file cannot hold (allowed: one line)"


def has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def check_catalog_value(reader: ConfigReader, catalog: str, key: str, text: str) -> None:
    """A credential reaches the nodes only as a Secrets Manager reference, never as stack text."""
    where = f"catalogs.{catalog}.{key}"
    if text.startswith(SECRET_REFERENCE_PREFIX):
        arn, _, json_key = text[len(SECRET_REFERENCE_PREFIX) :].partition("#")
        if not ARN["secretsmanager"].match(arn) or ("#" in text and not json_key):
            reader.problem(
                "catalogs",
                f"{where}: {text!r} is not a valid reference (allowed: {SECRET_REFERENCE_PREFIX}<secret ARN> "
                f"or {SECRET_REFERENCE_PREFIX}<secret ARN>#<json key>, ARN "
                "arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
            )
    elif re.split(r"[._-]", key.lower())[-1] in CREDENTIAL_WORDS:
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


def parse_overrides(reader: ConfigReader, version: int) -> dict[str, str]:
    overrides = reader.string_map("configOverrides")
    for name in sorted(overrides):
        if not PROPERTY.match(name):
            reader.problem("configOverrides", f"{name!r} is not a property name")
        elif name in MANAGED_PROPERTIES:
            reader.problem(
                "configOverrides", f"{name!r} is set by the program from {MANAGED_PROPERTIES[name]}"
            )
        else:
            reason = version_rejection(name, version)
            if reason:
                reader.problem("configOverrides", reason)
            if has_line_break(overrides[name]):
                reader.problem("configOverrides", f"{name!r}: {LINE_BREAK}")
    return {k: v for k, v in overrides.items() if k not in MANAGED_PROPERTIES}


def version_rejection(name: str, version: int) -> str | None:
    """Why this Trino version would refuse the property at boot, from the renderer's own table."""
    return versions.rejection(name, version)
