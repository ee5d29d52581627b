"""Where the query log is stored: the seam between the shipper and one search server.

The shipper (querylog.py) owns the spool, the at-least-once delivery and the error handling; a
`Store` only knows how to talk to one kind of server: `prepare()` puts the index template (and the
retention policy) before the first document, `bulk()` indexes documents with the query id as `_id`
and says per document whether it was taken, should be retried, or is refused for good. Everything
the servers share (the mapping, the bulk body, how a bulk answer is read) lives here, so a backend
is only its client and its own policy API.

The template is put before the first document is indexed, so a new daily index gets these types
instead of dynamically guessed ones (a `user` guessed as `text` cannot be aggregated). Unknown
fields are ignored (`dynamic: false`) rather than growing the mapping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from node_agent.contract import STORE_BACKENDS, STORE_ELASTICSEARCH, ElasticsearchSettings
from node_agent.querylog.events import COUNT_FIELDS, DURATION_FIELDS, index_name

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
TEMPLATE_META = {"managed_by": "presto-on-aws node-agent querylog"}
_COMPACT = (",", ":")

log = logging.getLogger(__name__)


class StoreRefused(Exception):
    """The server answered a request with an HTTP error (as opposed to not answering at all)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason[:600]}")
        self.status = status


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


def bulk_refusal(status: int, target: str, answer: object) -> Exception:
    """What a backend raises when the store answers a whole bulk request with an HTTP error:
    RequestRefused for its content (the shipper narrows it), StoreRefused otherwise (retried)."""
    if request_refused(status):
        return RequestRefused(status, str(answer)[:500])
    return StoreRefused(status, f"{target} answered {answer}")


class Store(Protocol):
    """One search server the query log ships to (see the module docstring)."""

    @property
    def target(self) -> str:
        """Where and how, for the log: e.g. 'elasticsearch at https://es:9200 (basic auth)'."""
        ...

    def prepare(self) -> None:
        """Put the index template; raise if the server cannot be reached (the shipper retries)."""
        ...

    @property
    def index_prefix(self) -> str:
        """Daily indices are `<prefix>-yyyy.MM.dd`; bulk entries name theirs (`bulk_entry`)."""
        ...

    def bulk(self, entries: list[bytes]) -> BulkOutcome:
        """Index bulk entries (`bulk_entry`); raise if the whole request failed."""
        ...


class SearchStore:
    """What every backend does the same way around its own client: the target line for the log,
    the template put after the retention policy, the bulk request and how an HTTP error on a whole
    request is reported. A backend supplies its client calls, its lifecycle API and how its
    client's errors carry the HTTP status (`answer`)."""

    client_error: ClassVar[type[Exception]]  # what the backend's client raises for any failure

    def __init__(self, settings: ElasticsearchSettings, client: Any) -> None:
        self.settings = settings
        self.client = client

    @property
    def target(self) -> str:
        s = self.settings
        if s.sigv4_service:
            auth = f"SigV4 {s.sigv4_service} {s.aws_region}"
        else:
            auth = "basic auth" if s.username else "no auth"
        return f"{s.backend} at {s.url} ({auth})"

    def answer(self, exc: Exception) -> tuple[int, object] | None:
        """(HTTP status, what the server said) for an error the server answered; None for no answer
        at all (unreachable, timeout), which the shipper retries as it is."""
        raise NotImplementedError

    def ensure_retention_policy(self) -> dict[str, Any] | None:
        """Create or update the retention policy; the index settings naming it, or None when the
        template must name none (no policy API, or a store whose retention is not ours)."""
        raise NotImplementedError

    def put_template(self, name: str, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def send_bulk(self, body: bytes) -> Any:
        raise NotImplementedError

    def template(self, settings: dict[str, Any] | None) -> dict[str, Any]:
        return index_template(self.settings.index_prefix, settings)

    def prepare(self) -> None:
        """The retention policy first (a template naming a policy that does not exist is refused),
        then the index template."""
        body = self.template(self.ensure_retention_policy())
        with self.refusal():
            self.put_template(self.settings.index_prefix, body)

    @property
    def index_prefix(self) -> str:
        return self.settings.index_prefix

    def bulk(self, entries: list[bytes]) -> BulkOutcome:
        """Raises RequestRefused when the whole request is refused for its content; any other
        error (unreachable, timeouts, 5xx, auth) propagates to be retried."""
        try:
            response = self.send_bulk(b"".join(entries))
        except self.client_error as exc:
            answered = self.answer(exc)
            if answered is None:
                raise
            raise bulk_refusal(answered[0], self.target, answered[1]) from exc
        return read_bulk_response(response)

    @contextmanager
    def refusal(self, *, say_where: bool = True) -> Iterator[None]:
        """An HTTP error on a whole request becomes StoreRefused saying which store answered it
        and what it said; no answer at all propagates unchanged."""
        try:
            yield
        except self.client_error as exc:
            answered = self.answer(exc)
            if answered is None:
                raise
            status, said = answered
            raise StoreRefused(status, f"{self.target} answered {said}" if say_where else str(said)) from exc

    def retention(self, policy: str, ensure: Callable[[], bool]) -> bool:
        """`ensure_retention` for this store's policy named `policy`."""
        return ensure_retention(self.target, policy, self.settings.retention_days, ensure)


def basic_auth(settings: ElasticsearchSettings, password: str | None) -> tuple[str, str] | None:
    """(user, password) when a user is configured; a user without a password is refused."""
    if not settings.username:
        return None
    if password is None:
        raise ValueError(
            f"elasticsearch.username {settings.username!r} is set but no password was resolved "
            "(elasticsearch.password_secret_arn)"
        )
    return settings.username, password


def tls_context(settings: ElasticsearchSettings) -> ssl.SSLContext | None:
    """A context trusting the configured CA; None means the client's default (the system CAs)."""
    if not settings.ca_bundle:
        return None
    if not settings.url.startswith("https://"):
        raise ValueError(
            f"elasticsearch.ca_bundle is set but elasticsearch.url {settings.url!r} is not https"
        )
    return ssl.create_default_context(cadata=settings.ca_bundle)


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


def index_template(prefix: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of the composable index template both servers accept (`PUT _index_template/<prefix>`)."""
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 100,
        "template": {"settings": {"number_of_shards": 1, **(settings or {})}, "mappings": mapping()},
        "_meta": TEMPLATE_META,
    }


def retention_policy_name(prefix: str) -> str:
    return f"{prefix}-retention"


def fingerprint(body: dict[str, Any]) -> str:
    """A short digest of a policy body we put, stored in the policy itself.

    Servers add defaults to a stored policy (ILM a `min_age` per phase, ISM a `retry` per action),
    so comparing what we read back with what we would put always differs; comparing our own
    digest tells "already there" (nothing to write: a restart changes nothing) from "changed".
    """
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def ensure_retention(target: str, name: str, days: int, ensure: Callable[[], bool]) -> bool:
    """Run a backend's create-or-update of the retention policy; never let it block shipping.

    `ensure` returns True when it wrote the policy and False when the same one was already there.
    An HTTP error (no privilege, no lifecycle plugin, a policy the server refuses) is logged at
    ERROR and shipping goes on without retention; only "no answer" propagates, so the shipper
    retries. Returns False when the server has no lifecycle API at all (Elasticsearch without ILM,
    OpenSearch without ISM): an index template must then not name a policy, or the server would
    refuse the template and with it every document.
    """
    try:
        written = ensure()
    except StoreRefused as exc:
        missing_api = "no handler found" in str(exc)
        hint = {
            401: "the query-log credentials were not accepted for the policy API",
            403: "the query-log user or role lacks the privilege to manage lifecycle policies",
        }.get(exc.status, "the server refused the policy")
        if missing_api:
            hint = "the server has no lifecycle API (Elasticsearch without ILM, OpenSearch without ISM)"
        log.error(
            "querylog: RETENTION NOT APPLIED on %s: could not put policy %r (delete indices after %d days): "
            "%s (%s). Shipping continues; old indices are kept until this is fixed.",
            target,
            name,
            days,
            hint,
            exc,
        )
        return not missing_api
    log.info(
        "querylog: retention policy %r on %s %s (delete indices after %d days)",
        name,
        target,
        "written" if written else "already up to date",
        days,
    )
    return True


def bulk_entry(prefix: str, doc: dict[str, Any]) -> bytes:
    """One document's two lines of a bulk body: into its daily index with the query id as `_id`,
    so a resend overwrites instead of duplicating.

    Built once, when the event arrives, and spooled as it is: shipping a batch is then a
    concatenation, with no parse or encode per event on the way out (bench/querylog.py).
    """
    action = {"index": {"_index": index_name(prefix, doc["end_time"]), "_id": doc["query_id"]}}
    return f"{json.dumps(action, separators=_COMPACT)}\n{json.dumps(doc, separators=_COMPACT)}\n".encode()


def entry_document(entry: bytes) -> dict[str, Any]:
    """The document of a bulk entry (for the rejected file and the log; shipping never parses)."""
    return dict(json.loads(entry.split(b"\n", 2)[1]))


def spooled_entry(prefix: str, payload: bytes) -> bytes:
    """A spooled record as a bulk entry. Agents before bulk entries spooled the bare document:
    compact JSON holds no raw newline, so a payload without one is such a document, shipped after
    an upgrade like any other."""
    return payload if b"\n" in payload else bulk_entry(prefix, json.loads(payload))


def read_bulk_response(response: Any) -> BulkOutcome:
    """Each item's result (see `item_result`), reason and status, in request order."""
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


def open_store(settings: ElasticsearchSettings, password: str | None) -> Store:
    """The store for the node settings' backend, with its client built (no request made yet)."""
    if settings.backend == STORE_ELASTICSEARCH:
        from node_agent.querylog.store.elastic import ElasticStore

        return ElasticStore(settings, password)
    if settings.backend in STORE_BACKENDS:
        from node_agent.querylog.store.opensearch import OpenSearchStore

        return OpenSearchStore(settings, password)
    raise ValueError(
        f"elasticsearch.backend {settings.backend!r} is not a query-log store "
        f"(allowed: {', '.join(STORE_BACKENDS)})"
    )
