"""The query-log part of the stack config: where the agent ships events and how it authenticates."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from components import aws_limits
from components.settings.model import ElasticsearchConfig
from components.settings.reader import ARN, INDEX_PREFIX, PEM_CERT, ConfigReader, secret_text
from node_agent.contract import (
    DEFAULT_QUERYLOG_RETENTION_DAYS,
    SIGV4_SERVICES,
    STORE_AWS_OPENSEARCH,
    STORE_AWS_SERVERLESS,
    STORE_BACKENDS,
    STORE_ELASTICSEARCH,
)

_REGION = r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
# search-<domain>-<26 character id>.<region>.es.amazonaws.com (vpc- for a VPC domain)
AWS_DOMAIN_HOST = re.compile(
    rf"^(?:search|vpc)-(?P<resource>[a-z][a-z0-9-]{{2,27}})-[a-z0-9]{{26}}\.{_REGION}\.es\.amazonaws\.com$"
)
# <collection id>.<region>.aoss.amazonaws.com
AWS_COLLECTION_HOST = re.compile(rf"^(?P<resource>[a-z0-9]{{3,40}})\.{_REGION}\.aoss\.amazonaws\.com$")
AWS_HOSTS = {STORE_AWS_OPENSEARCH: AWS_DOMAIN_HOST, STORE_AWS_SERVERLESS: AWS_COLLECTION_HOST}


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
        for key in (*dependent, "queryLogBackend", "queryLogRetentionDays"):
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
    backend = reader.choice("queryLogBackend", STORE_BACKENDS, inferred_backend(url))
    region, resource = aws_endpoint(reader, backend, url, username is not None or has_password)
    return ElasticsearchConfig(
        url=url or "",
        index_prefix=reader.string("elasticsearchIndexPrefix", INDEX_PREFIX) or "trino-queries",
        username=username,
        password=password,
        password_secret_arn=arn,
        ca_bundle=ca_bundle,
        backend=backend,
        retention_days=reader.integer("queryLogRetentionDays", DEFAULT_QUERYLOG_RETENTION_DAYS, 1, 3650),
        aws_region=region,
        aws_resource=resource,
    )


def inferred_backend(url: str | None) -> str:
    """The default when queryLogBackend is not set: an AWS endpoint names its service."""
    host = urlsplit(url or "").hostname or ""
    for backend, pattern in AWS_HOSTS.items():
        if pattern.match(host):
            return backend
    return STORE_ELASTICSEARCH


def aws_endpoint(
    reader: ConfigReader, backend: str, url: str | None, has_credentials: bool
) -> tuple[str | None, str | None]:
    """(signing region, domain name or collection id) of a SigV4 backend, from its endpoint.

    The coordinator role is granted the HTTP actions on exactly this domain or collection, so the
    endpoint must be the one AWS gave it (a custom domain endpoint names no domain).
    """
    if backend not in SIGV4_SERVICES or url is None:
        return None, None
    if has_credentials:
        reader.problem(
            "queryLogBackend",
            f"{backend!r} signs with the coordinator's role (SigV4) and takes no elasticsearchUsername or "
            "password (allowed: remove them, or queryLogBackend: opensearch for a domain's internal users)",
        )
    if not url.startswith("https://"):
        reader.problem("elasticsearchUrl", f"{url!r}: {backend!r} is reached over https:// only")
    match = AWS_HOSTS[backend].match(urlsplit(url).hostname or "")
    if match is None:
        shape = (
            "https://search-<domain>-<id>.<region>.es.amazonaws.com (or vpc-…)"
            if backend == STORE_AWS_OPENSEARCH
            else "https://<collection id>.<region>.aoss.amazonaws.com"
        )
        reader.problem("elasticsearchUrl", f"{url!r} is not an endpoint of {backend!r} (allowed: {shape})")
        return None, None
    return match["region"], match["resource"]


def es_url(reader: ConfigReader, text: str) -> str | None:
    parts = urlsplit(text)
    default_port = 443 if (parts.hostname or "").endswith(".amazonaws.com") else 9200
    try:
        port = parts.port or default_port
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
