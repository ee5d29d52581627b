"""The query log's OpenSearch backends, through opensearch-py: a self-managed OpenSearch 2.x/3.x
(basic auth or none), an Amazon OpenSearch Service domain and an OpenSearch Serverless collection
(both SigV4-signed with the node's own role, services `es` and `aoss`).

Retention is an ISM policy whose `ism_template` attaches it to every new `<prefix>-*` index. A
Serverless collection has no ISM: what deletes old data there is the collection's data lifecycle
policy, which the account sets (and which only time-series collections have; see README). What
all backends share is store.SearchStore; this is the client, ISM, and how the client's errors
carry the HTTP status.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from opensearchpy import OpenSearch, TransportError, Urllib3AWSV4SignerAuth

from node_agent.contract import STORE_AWS_SERVERLESS, ElasticsearchSettings
from node_agent.querylog.store.base import (
    TEMPLATE_META,
    SearchStore,
    basic_auth,
    fingerprint,
    retention_policy_name,
    tls_context,
)

log = logging.getLogger(__name__)
ISM_POLICIES = "/_plugins/_ism/policies"


def make_client(
    settings: ElasticsearchSettings, password: str | None, *, credentials: Any = None, timeout: float = 10.0
) -> OpenSearch:
    """A client with SigV4 (AWS backends), basic auth (a user configured) or none, and the given CA."""
    kwargs: dict[str, Any] = {"timeout": timeout, "max_retries": 0, "retry_on_timeout": False}
    service = settings.sigv4_service
    if service:
        if settings.username:
            raise ValueError(
                f"elasticsearch.username is set but backend {settings.backend!r} signs requests with "
                "the node's role (SigV4); a domain's internal users go with backend 'opensearch'"
            )
        if not settings.aws_region:
            raise ValueError(f"backend {settings.backend!r} needs elasticsearch.aws_region to sign requests")
        credentials = credentials or boto3.Session().get_credentials()
        if credentials is None:
            raise ValueError(f"backend {settings.backend!r} signs with AWS credentials but none were found")
        kwargs["http_auth"] = Urllib3AWSV4SignerAuth(credentials, settings.aws_region, service)
    elif settings.username:
        kwargs["http_auth"] = basic_auth(settings, password)
    context = tls_context(settings)
    if context:
        kwargs["ssl_context"] = context
    return OpenSearch(hosts=[settings.url], **kwargs)


def ism_policy(prefix: str, days: int) -> dict[str, Any]:
    """Delete each `<prefix>-*` index `days` after its creation; the description carries our digest."""
    states = [
        {
            "name": "open",
            "actions": [],
            "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ]
    templates = [{"index_patterns": [f"{prefix}-*"], "priority": 100}]
    digest = fingerprint({"states": states, "ism_template": templates})
    return {
        "description": f"{TEMPLATE_META['managed_by']}: delete {prefix}-* after {days} days [{digest}]",
        "default_state": "open",
        "states": states,
        "ism_template": templates,
    }


class OpenSearchStore(SearchStore):
    """OpenSearch in any of its three forms: index template, ISM retention (not Serverless), `_bulk`."""

    client_error = TransportError  # also raised for no answer at all (status_code "N/A")

    def __init__(
        self, settings: ElasticsearchSettings, password: str | None, *, credentials: Any = None
    ) -> None:
        super().__init__(settings, make_client(settings, password, credentials=credentials))

    @property
    def serverless(self) -> bool:
        return self.settings.backend == STORE_AWS_SERVERLESS

    def answer(self, exc: Exception) -> tuple[int, object] | None:
        assert isinstance(exc, TransportError)
        return (exc.status_code, exc.info) if isinstance(exc.status_code, int) else None

    def ensure_retention_policy(self) -> dict[str, Any] | None:
        prefix, days = self.settings.index_prefix, self.settings.retention_days
        if self.serverless:
            log.info(
                "querylog: %s: no ISM on OpenSearch Serverless; old data is deleted only by the "
                "collection's data lifecycle policy, which the account sets (queryLogRetentionDays=%d "
                "is not applied by the agent)",
                self.target,
                days,
            )
            return None
        policy = retention_policy_name(prefix)
        body = ism_policy(prefix, days)
        self.retention(policy, lambda: self._ensure_policy(policy, body))
        return None  # ism_template attaches the policy to new indices; the index names none

    def template(self, settings: dict[str, Any] | None) -> dict[str, Any]:
        body = super().template(settings)
        if self.serverless:
            body["template"].pop("settings")  # a collection manages its own shards
        return body

    def _ensure_policy(self, name: str, policy: dict[str, Any]) -> bool:
        path = f"{ISM_POLICIES}/{name}"
        with self.refusal(say_where=False):
            try:
                current = self.client.transport.perform_request("GET", path)
            except TransportError as exc:
                if exc.status_code != 404 or "no handler" in str(exc.info):
                    raise
                current = None  # ISM answered: no such policy yet
            if current is None:
                self.client.transport.perform_request("PUT", path, body={"policy": policy})
                return True
            if current["policy"].get("description") == policy["description"]:
                return False
            params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
            self.client.transport.perform_request("PUT", path, params=params, body={"policy": policy})
            return True

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, body=body)

    def send_bulk(self, body: bytes) -> Any:
        return self.client.bulk(body=body)  # bytes go out as they are
