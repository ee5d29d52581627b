"""StandInSearchServer: the few REST endpoints the query-log stores call at start, over real HTTP,
for both products: ILM (`/_ilm/policy/<name>`), ISM (`/_plugins/_ism/policies/<name>`), index
templates and `_bulk`.

A stand-in because neither integration-test distribution on Maven Central carries a lifecycle API
(Elasticsearch's has no ILM module, OpenSearch's no ISM plugin), so the harness cannot show a
policy being written. It answers as the servers document: a stored ILM policy comes back with a
version that every PUT increments, an ISM policy with `_seq_no`/`_primary_term` that an update
must quote (409 otherwise) and with the `retry` defaults ISM adds to each action. `mode` makes the
lifecycle API refuse (403) or be absent (400 "no handler found"), as a server without the privilege
or the plugin does.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ILM = "/_ilm/policy/"
ISM = "/_plugins/_ism/policies/"


@dataclass
class Stored:
    body: dict[str, Any]
    version: int = 1
    seq_no: int = 0


@dataclass
class State:
    mode: str = "normal"  # normal | forbidden | absent
    policies: dict[str, Stored] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


class StandInSearchServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = State()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def writes(self, prefix: str) -> list[str]:
        return [path for method, path in self.state.requests if method == "PUT" and path.startswith(prefix)]


class _Handler(BaseHTTPRequestHandler):
    server: StandInSearchServer
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        body = json.loads(raw) if raw.strip() and not url.path.endswith("_bulk") else None
        with self.server.lock:
            self.server.state.requests.append((self.command, url.path))
            status, answer = self._route(url.path, parse_qs(url.query), body, raw)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")  # the 8.x client's product check
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = _handle

    def _route(self, path: str, query: dict[str, list[str]], body: Any, raw: bytes) -> tuple[int, Any]:
        state = self.server.state
        if path.startswith((ILM, ISM)):
            if state.mode == "absent":
                return 400, {"error": f"no handler found for uri [{path}] and method [{self.command}]"}
            if state.mode == "forbidden":
                return 403, {"error": {"type": "security_exception", "reason": "action is unauthorized"}}
            return (
                self._ilm(path[len(ILM) :], body)
                if path.startswith(ILM)
                else self._ism(path[len(ISM) :], query, body)
            )
        if path.startswith("/_index_template/") and self.command == "PUT":
            state.templates[path.rsplit("/", 1)[1]] = body
            return 200, {"acknowledged": True}
        if path == "/_bulk":
            lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
            items = [{"index": {"_id": a["index"]["_id"], "status": 201}} for a in lines[0::2]]
            return 200, {"errors": False, "items": items}
        return 404, {"error": f"no stand-in for {self.command} {path}"}

    def _ilm(self, name: str, body: Any) -> tuple[int, Any]:
        policies = self.server.state.policies
        if self.command == "GET":
            if name not in policies:
                return 404, {
                    "error": {
                        "type": "resource_not_found_exception",
                        "reason": f"Lifecycle policy not found: {name}",
                    }
                }
            stored = policies[name]
            return 200, {name: {"version": stored.version, "policy": stored.body}}
        previous = policies.get(name)
        policies[name] = Stored(body["policy"], version=(previous.version + 1) if previous else 1)
        return 200, {"acknowledged": True}

    def _ism(self, name: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        policies = self.server.state.policies
        stored = policies.get(name)
        if self.command == "GET":
            if stored is None:
                return 404, {
                    "error": {"type": "status_exception", "reason": "Policy not found"},
                    "status": 404,
                }
            return 200, {
                "_id": name,
                "_seq_no": stored.seq_no,
                "_primary_term": 1,
                "policy": _with_ism_defaults(stored.body),
            }
        if stored is not None and query.get("if_seq_no") != [str(stored.seq_no)]:
            return 409, {"error": {"type": "version_conflict_engine_exception", "reason": "version conflict"}}
        seq_no = stored.seq_no + 1 if stored else 0
        policies[name] = Stored(body["policy"], seq_no=seq_no)
        return 201, {"_id": name, "_seq_no": seq_no, "_primary_term": 1}


def _with_ism_defaults(policy: dict[str, Any]) -> dict[str, Any]:
    shown = copy.deepcopy(policy)
    for state in shown["states"]:
        for action in state["actions"]:
            action.setdefault("retry", {"count": 3, "backoff": "exponential", "delay": "1m"})
    shown["schema_version"] = 21
    return shown


@contextmanager
def standin_search_server() -> Iterator[StandInSearchServer]:
    server = StandInSearchServer()
    thread = threading.Thread(target=server.serve_forever, name="standin-search", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
