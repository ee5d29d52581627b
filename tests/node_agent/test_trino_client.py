"""The shared Trino client's error mapping and query cancel, against small fake servers.

Fakes only for what a real Trino will not do on demand: cut an answer short, answer garbage,
keep a query queued for ever (a real one does that only without workers, see the integration
suite's probe tests).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable


class FakeTrinoQueue(ThreadingHTTPServer):
    """Keeps every query QUEUED; records DELETEs (the client protocol's cancel).

    `body` replaces every answer's bytes; `short_by` cuts answers short of their Content-Length.
    """

    def __init__(self, *, body: bytes | None = None, short_by: int = 0) -> None:
        self.deleted: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                page = {
                    "id": "q1",
                    "nextUri": f"{server.url}/v1/statement/queued/q1/1",
                    "stats": {"state": "QUEUED"},
                }
                raw = body if body is not None else json.dumps(page).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw[: len(raw) - short_by])

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer()

            do_GET = _answer

            def do_DELETE(self) -> None:
                server.deleted.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def serve() -> Iterator[list[FakeTrinoQueue]]:
    servers: list[FakeTrinoQueue] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def start(servers: list[FakeTrinoQueue], *, body: bytes | None = None, short_by: int = 0) -> FakeTrinoQueue:
    server = FakeTrinoQueue(body=body, short_by=short_by)
    servers.append(server)
    return server


def test_a_query_that_outlives_its_deadline_is_cancelled(serve: list[FakeTrinoQueue]) -> None:
    server = start(serve)
    with pytest.raises(TrinoUnavailable, match="did not finish"):
        TrinoAdmin(server.url, timeout=2).query("SELECT 1", deadline_seconds=0.3)
    assert server.deleted == ["/v1/statement/queued/q1/1"]


def test_a_truncated_answer_is_trino_unavailable(serve: list[FakeTrinoQueue]) -> None:
    """http.client.IncompleteRead once escaped the mapping and crashed its callers."""
    server = start(serve, short_by=5)
    with pytest.raises(TrinoUnavailable, match="IncompleteRead"):
        TrinoAdmin(server.url, timeout=2).info()


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\xfd", b'"a string page"'], ids=str)
def test_a_query_answer_that_is_not_a_json_page_is_trino_unavailable(
    serve: list[FakeTrinoQueue], body: bytes
) -> None:
    server = start(serve, body=body)
    with pytest.raises(TrinoUnavailable):
        TrinoAdmin(server.url, timeout=2).query("SELECT 1", deadline_seconds=2)


def test_trino_unavailable_is_not_a_trino_error() -> None:
    """Callers tell 'no usable answer' (retry, count a failed probe) from 'Trino said no'."""
    assert not issubclass(TrinoUnavailable, TrinoError)


def _finished(query_id: str, ended: datetime) -> dict[str, object]:
    stamp = ended.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ended.microsecond // 1000:03d}Z"
    return {"queryId": query_id, "state": "FINISHED", "queryStats": {"endTime": stamp}}


def test_a_query_that_finished_a_moment_ago_still_counts_as_waited_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its client may still hold the final nextUri, which only this coordinator can answer."""
    admin = TrinoAdmin("http://127.0.0.1:1")
    now = datetime.now(UTC)
    listed = [
        _finished("just-now", now),
        _finished("long-ago", now - timedelta(seconds=5)),
        {"queryId": "reading", "state": "FINISHING"},
        {"queryId": "no-end-time", "state": "FAILED", "queryStats": {}},
    ]
    monkeypatch.setattr(admin, "queries", lambda: listed)
    assert [q["queryId"] for q in admin.active_queries()] == ["just-now", "reading"]


def test_a_closed_port_is_a_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: the kernel refuses
        with pytest.raises(TrinoUnavailable) as caught:
            TrinoAdmin(f"http://127.0.0.1:{port}", timeout=2).info()
    assert caught.value.refused


def test_a_port_that_accepts_and_says_nothing_is_not_refused() -> None:
    """What a paused JVM looks like: the kernel completes the handshake, nobody answers."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        with pytest.raises(TrinoUnavailable) as caught:
            TrinoAdmin(f"http://127.0.0.1:{port}", timeout=0.5).info()
    assert not caught.value.refused
