"""The one Trino admin client, shared by the node agent and the Lambda functions.

Standard library only: the Lambda runtime ships boto3 but not requests, and the agent should not
need a second HTTP stack for the same calls. Every call has a timeout, so a hung Trino turns into
TrinoUnavailable instead of a stuck agent or a Lambda that runs out its clock.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.cookiejar
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from node_agent.contract import MANAGEMENT_USER

DONE_QUERY_STATES = frozenset({"FINISHED", "FAILED"})
# A client follows its final nextUri within this of the query's end; see active_queries. 0.25 s
# lost the rehearsal's racing query on a loaded CI machine (2 cores, both test parts running);
# the price: a stream whose pauses are all shorter than this has no quiet moment.
ENDED_LINGER_SECONDS = 1.0
INTERNAL_BEARER_HEADER = "X-Trino-Internal-Bearer"  # Trino's node-to-node authentication


class TrinoUnavailable(Exception):
    """Trino did not answer usably: refused, reset, timed out, cut short, or not JSON.

    A truncated answer (http.client.IncompleteRead, a dropped connection mid-response) and a body
    that is not JSON are what a dying or overloaded node sends; callers treat them like no answer,
    so they count as a failed probe instead of escaping as an unexpected exception. `refused`:
    the connection was refused, so nothing listens on the port (a dead process), unlike a paused
    JVM, whose kernel still completes the handshake and then the read times out.
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class TrinoError(Exception):
    """Trino answered, but not with success."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    query_id: str


class TrinoAdmin:
    """Admin calls against one Trino node (coordinator or worker)."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str = MANAGEMENT_USER,
        password: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        tls_server_name: str | None = None,
    ) -> None:
        """`ssl_context` overrides `ca_bundle`: the node agent pins its own cluster certificate
        when it talks to its local Trino on 127.0.0.1, where no host name check can match.

        `tls_server_name` is the name the certificate must carry when it differs from the URL's
        host: the failover function probes each coordinator at its own address, while both serve
        the certificate of the coordinator ENI's address. The check stays on, for that name.
        """
        self.base_url = base_url.rstrip("/")
        self.user = user
        self.password = password
        self.timeout = timeout
        context = ssl_context
        if context is None and self.base_url.startswith("https://") and (ca_bundle or tls_server_name):
            context = ssl.create_default_context(cafile=ca_bundle)
        https: urllib.request.HTTPSHandler = (
            _NamedHttpsHandler(context, tls_server_name)
            if context is not None and tls_server_name
            else urllib.request.HTTPSHandler(context=context)
        )
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(https, urllib.request.HTTPCookieProcessor(self._cookies))

    # --- public, no identity needed --------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """GET /v1/info: version, coordinator flag, `starting`."""
        return self._json("GET", "/v1/info")

    def state(self) -> str:
        """GET /v1/info/state: ACTIVE, SHUTTING_DOWN, DRAINING, ..."""
        return str(self._json("GET", "/v1/info/state"))

    def status(self) -> dict[str, Any]:
        """GET /v1/status: this node's heap, CPU load and processors."""
        return self._json("GET", "/v1/status")

    # --- management (the agent's user) -----------------------------------------------------
    def shutdown(self) -> None:
        """Ask this worker to drain and exit (one-way). Must be sent to the worker itself."""
        self._request("PUT", "/v1/info/state", body=b'"SHUTTING_DOWN"')

    def metrics(self, names: list[str] | None = None) -> str:
        """GET /metrics (OpenMetrics text, Trino 407+), only `names` if given.

        The full page is ~11,000 lines on Trino 476; the `name[]` filter keeps a scrape small.
        """
        query = "?" + urllib.parse.urlencode([("name[]", n) for n in names]) if names else ""
        return self._request("GET", "/metrics" + query).decode()

    def mbean(self, object_name: str) -> dict[str, Any]:
        """GET /v1/jmx/mbean/{name} (airlift JmxHttpModule; PrestoSQL 330 to Trino 479): the bean's
        readable attributes by name. Nested stats are flattened, e.g. `FailedQueries.TotalCount`."""
        path = "/v1/jmx/mbean/" + urllib.parse.quote(object_name, safe="")
        bean = self._json("GET", path) or {}
        return {a["name"]: a.get("value") for a in bean.get("attributes") or [] if a.get("readable", True)}

    def nodes(self) -> list[dict[str, Any]]:
        """The other nodes the coordinator knows, each with its `uri`.

        GET /v1/node up to 476. With 477's announce discovery (the default) that resource is not
        bound (404, measured on 483); GET /v1/announce, a management read like it, lists the URIs
        nodes announced, which is what the callers need.
        """
        try:
            return list(self._json("GET", "/v1/node") or [])
        except TrinoError as exc:
            if exc.status != 404:
                raise
        return [{"uri": uri} for uri in self.announced()]

    def announced(self) -> list[str]:
        """GET /v1/announce (477+, announce discovery): the URIs of the nodes that announced here."""
        answer = self._json("GET", "/v1/announce") or []
        if not isinstance(answer, list):
            raise TrinoUnavailable(f"GET /v1/announce answered {answer!r:.200}, not a list")
        return [str(uri) for uri in answer]

    def stats(self) -> dict[str, Any]:
        """GET /ui/api/stats: cluster-wide running / queued / blocked queries, workers, memory.

        The endpoint wants a Web UI session, not a user header: on 401 log in once (form login,
        which Trino answers with a session cookie) and retry.
        """
        try:
            return self._json("GET", "/ui/api/stats")
        except TrinoError as exc:
            if exc.status != 401:
                raise
        self._login()
        return self._json("GET", "/ui/api/stats")

    def active_queries(self) -> list[dict[str, Any]]:
        """GET /v1/query, less the queries that are done: every query a client still waits on.

        Wider than /ui/api/stats, which counts only QUEUED and RUNNING: a query that is planning,
        starting or finishing (its client still fetching the last pages) would die with this
        coordinator too. The coordinator switchover moves the address only when this is empty.

        Also a query that ended in the last ENDED_LINGER_SECONDS: measured on 476, a query with
        a large result is FINISHED while its client still holds one nextUri (the final, empty
        page), and nothing in /v1/query changes when the client follows it; moved in that moment,
        the client's last GET reaches the new holder and fails with 404 "Query not found".
        """
        now = datetime.now(UTC)
        return [
            q
            for q in self.queries()
            if q.get("state") not in DONE_QUERY_STATES or _ended_within(q, now, ENDED_LINGER_SECONDS)
        ]

    def queries(self) -> list[dict[str, Any]]:
        """GET /v1/query: every query the coordinator has dispatched and not yet forgotten.

        Not the ones submitted but not yet dispatched: Trino dispatches a query when its client
        first follows the nextUri of its POST, so for a moment after the POST it is listed nowhere.
        """
        queries = self._json("GET", "/v1/query") or []
        if not isinstance(queries, list):
            raise TrinoUnavailable(f"GET /v1/query answered {queries!r:.200}, not a list")
        return [q for q in queries if isinstance(q, dict)]

    def submission_mark(self) -> str:
        """A new query id from the coordinator's id sequence: POST a statement, then cancel it.

        Trino numbers query ids per day in submission order, so two marks bracket every query
        submitted between them, dispatched or not (see functions/failover/switchover.py).
        """
        page = self.submit("SELECT 1")
        next_uri = page.get("nextUri")
        if next_uri:
            with contextlib.suppress(TrinoError, TrinoUnavailable):
                self._request("DELETE", urllib.parse.urlsplit(str(next_uri)).path)
        return str(page.get("id", ""))

    # --- internal (the cluster's shared secret; see node_agent.trino.discovery) ---------------
    def internal_json(self, method: str, path: str, token: str, body: Any = None) -> Any:
        """An internal endpoint (discovery), authenticated with Trino's internal bearer token."""
        data = None if body is None else json.dumps(body).encode()
        return self._json(method, path, body=data, headers={INTERNAL_BEARER_HEADER: token})

    def internal_announce(self, uri: str, token: str) -> None:
        """POST /v1/announce (477+): announce a node's URI here, as each node does every 5 s."""
        self._request(
            "POST",
            "/v1/announce",
            body=uri.encode(),
            content_type="text/plain",
            headers={INTERNAL_BEARER_HEADER: token},
        )

    def submit(self, sql: str) -> dict[str, Any]:
        """POST one statement; its first page (`id`, `nextUri`, `stats.state`), nothing waited for."""
        page = self._json("POST", "/v1/statement", body=sql.encode())
        if not isinstance(page, dict):
            raise TrinoUnavailable(f"POST /v1/statement answered {page!r:.200}, not a JSON object")
        return page

    def query(self, sql: str, *, deadline_seconds: float = 60.0) -> QueryResult:
        """Run one statement through the client protocol and return all its rows.

        A query still unfinished at the deadline is cancelled before TrinoUnavailable is raised.
        """
        deadline = time.monotonic() + deadline_seconds
        page = self.submit(sql)
        columns: list[str] = []
        rows: list[list[Any]] = []
        while True:
            if "error" in page:
                err = page["error"]
                name, message = err.get("errorName"), err.get("message")
                raise TrinoError(f"query {page.get('id')} failed: {name}: {message}")
            if page.get("columns"):
                columns = [c["name"] for c in page["columns"]]
            rows.extend(page.get("data") or [])
            next_uri = page.get("nextUri")
            if not next_uri:
                return QueryResult(columns=columns, rows=rows, query_id=str(page.get("id")))
            if time.monotonic() > deadline:
                self.cancel(next_uri)
                raise TrinoUnavailable(f"query {page.get('id')} did not finish in {deadline_seconds}s")
            page = self._json("GET", next_uri)
            if not isinstance(page, dict):
                raise TrinoUnavailable(f"query page from {next_uri} is not a JSON object: {page!r:.200}")

    def cancel(self, next_uri: str) -> None:
        """DELETE the query's next URI: the client protocol's cancel. Best effort, never raises.

        A caller that gives up on a query must cancel it, or it keeps a slot in the coordinator's
        queue (and its resources) until Trino's own client timeout notices nobody reads it.
        """
        with contextlib.suppress(TrinoError, TrinoUnavailable):
            self._request("DELETE", next_uri)

    # --- plumbing --------------------------------------------------------------------------
    def _login(self) -> None:
        """The Web UI's login: a form POST to /ui/login up to 482; 483's new UI took that path
        over (405 there) and logs in with JSON at /ui/auth/login (measured on a real 483)."""
        form = urllib.parse.urlencode(
            {"username": self.user, "password": self.password or "", "redirectPath": ""}
        ).encode()
        try:
            self._request("POST", "/ui/login", body=form, content_type="application/x-www-form-urlencoded")
            return
        except TrinoError as exc:
            if exc.status not in (404, 405):
                raise
        body = json.dumps({"username": self.user, "password": self.password or ""}).encode()
        self._request("POST", "/ui/auth/login", body=body)

    def _json(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        raw = self._request(method, path, body=body, headers=headers)
        try:
            return json.loads(raw) if raw else None
        except ValueError as exc:  # JSONDecodeError, or bytes that are not even UTF-8
            raise TrinoUnavailable(f"{method} {path}: answer is not JSON: {raw[:200]!r}") from exc

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> bytes:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        headers = {
            "X-Trino-User": self.user,
            "X-Presto-User": self.user,  # PrestoSQL <= 350 reads only this one
            "Content-Type": content_type,
            **(headers or {}),
        }
        if self.password is not None and url.startswith("https://"):
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise TrinoError(f"{method} {url}: HTTP {exc.code}: {detail}", status=exc.code) from exc
        except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as exc:
            # HTTPException: IncompleteRead (a body cut short), BadStatusLine, RemoteDisconnected.
            cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            refused = isinstance(cause, ConnectionRefusedError)
            raise TrinoUnavailable(f"{method} {url}: {exc}", refused=refused) from exc


class _NamedHttpsHandler(urllib.request.HTTPSHandler):
    """HTTPS whose certificate is checked for a fixed name, whatever address the URL connects to."""

    def __init__(self, context: ssl.SSLContext, server_name: str) -> None:
        super().__init__(context=context)
        self._tls_context = context
        self._server_name = server_name

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        context, server_name = self._tls_context, self._server_name

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                http.client.HTTPConnection.connect(self)
                self.sock = context.wrap_socket(self.sock, server_hostname=server_name)

        return self.do_open(Connection, req, context=context)


def _ended_within(query: dict[str, Any], now: datetime, seconds: float) -> bool:
    """Whether a listed query's queryStats.endTime (e.g. 2026-12-07T04:17:12.900Z) is that recent."""
    text = str((query.get("queryStats") or {}).get("endTime") or "")
    try:
        ended = datetime.fromisoformat(text)
    except ValueError:
        return False
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=UTC)
    return (now - ended).total_seconds() < seconds
