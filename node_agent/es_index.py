"""The query-log index in Elasticsearch: its template, the client, and one bulk request.

The template is put before the first document is indexed, so a new daily index gets these types
instead of dynamically guessed ones (a `user` guessed as `text` cannot be aggregated). Unknown
fields are ignored (`dynamic: false`) rather than growing the mapping.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch

from node_agent.contract import ElasticsearchSettings
from node_agent.events import COUNT_FIELDS, DURATION_FIELDS, index_name

_KEYWORDS = (
    "query_id",
    "state",
    "update_type",
    "user",
    "principal",
    "source",
    "catalog",
    "schema",
    "remote_client_address",
    "user_agent",
    "query_type",
    "server_address",
    "server_version",
    "environment",
    "retry_policy",
    "client_tags",
    "resource_group",
    "input_catalogs",
    "input_tables",
    "output_table",
    "error_name",
    "error_type",
    "failure_type",
    "failure_host",
)
_DATES = ("create_time", "execution_start_time", "end_time")


def mapping() -> dict[str, Any]:
    properties: dict[str, Any] = {name: {"type": "keyword", "ignore_above": 1024} for name in _KEYWORDS}
    properties.update({name: {"type": "date"} for name in _DATES})
    properties.update({name: {"type": "double"} for name in DURATION_FIELDS.values()})
    properties.update({name: {"type": "long"} for name in COUNT_FIELDS.values()})
    properties["cumulative_memory_byte_seconds"] = {"type": "double"}
    properties["error_code"] = {"type": "integer"}
    properties["query"] = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 8191}}}
    properties["failure_message"] = {"type": "text"}
    return {"dynamic": False, "properties": properties}


def put_template(client: Elasticsearch, prefix: str) -> None:
    client.indices.put_index_template(
        name=prefix,
        index_patterns=[f"{prefix}-*"],
        priority=100,
        template={"settings": {"number_of_shards": 1}, "mappings": mapping()},
        meta={"managed_by": "presto-on-aws node-agent querylog"},
    )


def make_client(
    settings: ElasticsearchSettings, password: str | None, *, timeout: float = 10.0
) -> Elasticsearch:
    """A client with basic auth when a user is configured and the given CA for TLS."""
    kwargs: dict[str, Any] = {"request_timeout": timeout, "max_retries": 0, "retry_on_timeout": False}
    if settings.username:
        if password is None:
            raise ValueError(
                f"elasticsearch.username {settings.username!r} is set but no password was resolved "
                "(elasticsearch.password_secret_arn)"
            )
        kwargs["basic_auth"] = (settings.username, password)
    if settings.ca_bundle:
        if not settings.url.startswith("https://"):
            raise ValueError(
                f"elasticsearch.ca_bundle is set but elasticsearch.url {settings.url!r} is not https"
            )
        kwargs["ssl_context"] = ssl.create_default_context(cadata=settings.ca_bundle)
    return Elasticsearch(settings.url, **kwargs)


@dataclass(frozen=True)
class BulkOutcome:
    """Per document, in request order: 'ok', 'retry' (try again later) or 'rejected' (never will).

    `statuses` holds each document's HTTP status when the store gave one (for the retry metric).
    """

    results: list[str]
    reasons: list[str | None]
    statuses: list[int] | None = None


class RequestRefused(Exception):
    """The store refused the whole bulk request for what it contains (400, 413).

    Sending the same request again cannot work; a smaller one without the offending document can.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


# 400s that are about the index or the cluster, not the document: they go away when an operator
# fixes the store, so the documents wait for that.
_INDEX_LEVEL_ERRORS = frozenset(
    {"index_closed_exception", "cluster_block_exception", "index_not_found_exception"}
)


def item_result(status: int, error_type: str | None) -> str:
    """'ok', 'retry' or 'rejected' for one document's status in a bulk answer.

    Only errors about the document itself (a 400 such as a mapping or parse error, or 413) are
    permanent. Everything else is retried: 401/403 (a wrong role), 404 (a missing index or
    alias), 409, 429 and 5xx are about the store and end when it is fixed.
    """
    if status < 300:
        return "ok"
    if status == 413 or (status == 400 and error_type not in _INDEX_LEVEL_ERRORS):
        return "rejected"
    return "retry"


def request_refused(status: int) -> bool:
    """True if a whole bulk request refused with `status` must be narrowed rather than resent."""
    return status in (400, 413)


def bulk_index(client: Elasticsearch, prefix: str, docs: list[dict[str, Any]]) -> BulkOutcome:
    """Index documents with the query id as `_id`: a resend overwrites, never duplicates.

    Raises RequestRefused when the whole request is refused for its content; any other error
    (unreachable, timeouts, 5xx, auth) propagates to be retried.
    """
    operations: list[dict[str, Any]] = []
    for doc in docs:
        operations.append({"index": {"_index": index_name(prefix, doc["end_time"]), "_id": doc["query_id"]}})
        operations.append(doc)
    try:
        response = client.bulk(operations=operations)
    except ApiError as exc:
        if request_refused(exc.meta.status):
            raise RequestRefused(exc.meta.status, str(exc)[:500]) from exc
        raise
    results: list[str] = []
    reasons: list[str | None] = []
    statuses: list[int] = []
    for item in response["items"]:
        outcome = item.get("index") or next(iter(item.values()))
        status = int(outcome.get("status", 500))
        error = outcome.get("error")
        error_type = error.get("type") if isinstance(error, dict) else None
        results.append(item_result(status, error_type))
        reasons.append(None if status < 300 else json.dumps(error)[:500])
        statuses.append(status)
    return BulkOutcome(results=results, reasons=reasons, statuses=statuses)
