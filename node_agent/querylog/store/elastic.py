"""The query log's Elasticsearch 8.x backend, through Elastic's own client.

The 8.x client checks that the server is Elastic's (its product check), which is why an OpenSearch
server needs its own backend (store_opensearch.py) rather than this one with another URL. What the
two share (template, bulk, errors, the target line) is store.SearchStore; this is the client, ILM,
and how the client's errors carry the HTTP status.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from node_agent.contract import ElasticsearchSettings
from node_agent.querylog.store.base import (
    TEMPLATE_META,
    SearchStore,
    basic_auth,
    fingerprint,
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


class ElasticStore(SearchStore):
    """Elasticsearch 8.x: composable index template, an ILM policy for retention, and `_bulk`."""

    client_error = ApiError  # connection errors are not ApiError: they propagate as they are

    def __init__(self, settings: ElasticsearchSettings, password: str | None) -> None:
        super().__init__(settings, make_client(settings, password))

    def answer(self, exc: Exception) -> tuple[int, object] | None:
        assert isinstance(exc, ApiError)
        return exc.meta.status, exc.body

    def ensure_retention_policy(self) -> dict[str, Any] | None:
        policy = retention_policy_name(self.settings.index_prefix)
        body = ilm_policy(self.settings.retention_days)
        has_ilm = self.retention(policy, lambda: self._ensure_policy(policy, body))
        return index_settings(policy) if has_ilm else None

    def _ensure_policy(self, name: str, policy: dict[str, Any]) -> bool:
        with self.refusal(say_where=False):
            try:
                current = self.client.ilm.get_lifecycle(name=name)[name]["policy"]
            except NotFoundError:
                current = {}
            if current.get("_meta", {}).get("fingerprint") == policy["_meta"]["fingerprint"]:
                return False
            self.client.ilm.put_lifecycle(name=name, policy=policy)
            return True

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.indices.put_index_template(
            name=name,
            index_patterns=body["index_patterns"],
            priority=body["priority"],
            template=body["template"],
            meta=body["_meta"],
        )

    def send_bulk(self, body: bytes) -> Any:
        return self.client.bulk(operations=body)  # bytes go out as they are
