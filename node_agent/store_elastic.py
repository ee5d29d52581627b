"""The query log's Elasticsearch 8.x backend, through Elastic's own client.

The 8.x client checks that the server is Elastic's (its product check), which is why an OpenSearch
server needs its own backend (store_opensearch.py) rather than this one with another URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from node_agent.contract import ElasticsearchSettings
from node_agent.store import (
    TEMPLATE_META,
    BulkOutcome,
    StoreRefused,
    basic_auth,
    bulk_operations,
    bulk_refusal,
    ensure_retention,
    fingerprint,
    index_template,
    read_bulk_response,
    retention_policy_name,
    tls_context,
)


def make_client(
    settings: ElasticsearchSettings, password: str | None, *, timeout: float = 10.0
) -> Elasticsearch:
    """A client with basic auth when a user is configured and the given CA for TLS."""
    kwargs: dict[str, Any] = {"request_timeout": timeout, "max_retries": 0, "retry_on_timeout": False}
    auth, context = basic_auth(settings, password), tls_context(settings)
    if auth:
        kwargs["basic_auth"] = auth
    if context:
        kwargs["ssl_context"] = context
    return Elasticsearch(settings.url, **kwargs)


def ilm_policy(days: int) -> dict[str, Any]:
    """Delete an index `days` after the day in its name (see `index_settings`); nothing else."""
    phases = {"delete": {"min_age": f"{days}d", "actions": {"delete": {}}}}
    return {"phases": phases, "_meta": {**TEMPLATE_META, "fingerprint": fingerprint(phases)}}


def index_settings(policy: str) -> dict[str, Any]:
    """ILM counts an index's age from the date in its name (`<prefix>-yyyy.MM.dd`), not from when
    it was created: a day shipped late from the spool is deleted with its own day, not days later."""
    return {"index.lifecycle.name": policy, "index.lifecycle.parse_origination_date": True}


class ElasticStore:
    """Elasticsearch 8.x: composable index template, an ILM policy for retention, and `_bulk`."""

    def __init__(self, settings: ElasticsearchSettings, password: str | None) -> None:
        self.settings = settings
        self.client = make_client(settings, password)

    @property
    def target(self) -> str:
        auth = "basic auth" if self.settings.username else "no auth"
        return f"elasticsearch at {self.settings.url} ({auth})"

    def prepare(self) -> None:
        prefix, days = self.settings.index_prefix, self.settings.retention_days
        policy = retention_policy_name(prefix)
        has_ilm = ensure_retention(
            self.target, policy, days, lambda: self._ensure_policy(policy, ilm_policy(days))
        )
        body = index_template(prefix, index_settings(policy) if has_ilm else None)
        with self._refusal():
            self.client.indices.put_index_template(
                name=self.settings.index_prefix,
                index_patterns=body["index_patterns"],
                priority=body["priority"],
                template=body["template"],
                meta=body["_meta"],
            )

    def _ensure_policy(self, name: str, policy: dict[str, Any]) -> bool:
        try:
            try:
                current = self.client.ilm.get_lifecycle(name=name)[name]["policy"]
            except NotFoundError:
                current = {}
            if current.get("_meta", {}).get("fingerprint") == policy["_meta"]["fingerprint"]:
                return False
            self.client.ilm.put_lifecycle(name=name, policy=policy)
            return True
        except ApiError as exc:
            raise StoreRefused(exc.meta.status, str(exc)) from exc

    @contextmanager
    def _refusal(self) -> Iterator[None]:
        """An HTTP error on a whole request says which store answered it, and what it said."""
        try:
            yield
        except ApiError as exc:
            raise StoreRefused(exc.meta.status, f"{self.target} answered {exc.body}") from exc

    def bulk(self, docs: list[dict[str, Any]]) -> BulkOutcome:
        """Raises RequestRefused when the whole request is refused for its content; any other
        error (unreachable, timeouts, 5xx, auth) propagates to be retried."""
        try:
            response = self.client.bulk(operations=bulk_operations(self.settings.index_prefix, docs))
        except ApiError as exc:
            raise bulk_refusal(exc.meta.status, self.target, exc.body) from exc
        return read_bulk_response(response)
