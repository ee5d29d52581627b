"""The query-log part of the stack config: where the agent ships events and how it authenticates."""

from __future__ import annotations

from urllib.parse import urlsplit

from components import aws_limits
from components.settings_model import ElasticsearchConfig
from components.settings_reader import ARN, INDEX_PREFIX, PEM_CERT, ConfigReader, secret_text


def elasticsearch_config(reader: ConfigReader) -> ElasticsearchConfig | None:
    dependent = (
        "elasticsearchUsername",
        "elasticsearchPassword",
        "elasticsearchPasswordSecretArn",
        "elasticsearchCaBundle",
        "elasticsearchIndexPrefix",
    )
    url_text = reader.string("elasticsearchUrl")
    if url_text is None:
        for key in dependent:
            if reader.has(key):
                reader.problem(key, "is set but elasticsearchUrl is not (the query log is off without it)")
        return None
    url = es_url(reader, url_text)
    username = reader.string("elasticsearchUsername")
    password = secret_text(reader, "elasticsearchPassword")
    arn = reader.string("elasticsearchPasswordSecretArn", ARN["secretsmanager"])
    if password is not None and reader.has("elasticsearchPasswordSecretArn"):
        reader.problem(
            "elasticsearchPassword",
            "give either elasticsearchPassword or elasticsearchPasswordSecretArn, not both",
        )
    has_password = reader.has("elasticsearchPassword") or reader.has("elasticsearchPasswordSecretArn")
    if has_password and username is None:
        reader.problem("elasticsearchUsername", "missing required key: a password needs a username")
    if username is not None and not has_password:
        reader.problem(
            "elasticsearchPasswordSecretArn", "missing required key: elasticsearchUsername needs a password"
        )
    if has_password and url and url.startswith("http://"):
        reader.problem(
            "elasticsearchUrl",
            f"{url!r} would send the password in clear text (allowed: https:// with credentials)",
        )
    ca_bundle = reader.string("elasticsearchCaBundle")
    if ca_bundle is not None and PEM_CERT not in ca_bundle:
        reader.problem("elasticsearchCaBundle", f"is not PEM (allowed: text containing {PEM_CERT})")
    elif ca_bundle is not None and len(ca_bundle.encode()) > aws_limits.ELASTICSEARCH_CA_BUNDLE_BYTES.value:
        limit = aws_limits.ELASTICSEARCH_CA_BUNDLE_BYTES
        reader.problem(
            "elasticsearchCaBundle",
            f"is {len(ca_bundle.encode())} bytes; at most {limit.value} are allowed "
            f"({limit.what}; give only the issuing CA and its root)",
        )
    return ElasticsearchConfig(
        url=url or "",
        index_prefix=reader.string("elasticsearchIndexPrefix", INDEX_PREFIX) or "trino-queries",
        username=username,
        password=password,
        password_secret_arn=arn,
        ca_bundle=ca_bundle,
    )


def es_url(reader: ConfigReader, text: str) -> str | None:
    parts = urlsplit(text)
    try:
        port = parts.port or 9200
    except ValueError:
        port = None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
    ):
        reader.problem("elasticsearchUrl", f"{text!r} is not valid (allowed: http(s)://host[:port], no path)")
        return None
    # urlsplit drops an IPv6 literal's brackets; put them back or the port reads as part of it.
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"
