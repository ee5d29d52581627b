"""The coordinator probe against faults a real Trino cannot be made to show on demand.

A real Trino 476 answers the healthy, the stopped, the paused and the busy cases (integration
suite). Here small fake servers inject what it cannot: a coordinator that accepts connections and
never answers, one that stays `starting`, one shutting down, one that refuses the management
user, and answers cut short or garbled on the wire.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.failover.watch import probe_coordinator
from node_agent.trino.admin import TrinoAdmin

STARTED = {"starting": False, "coordinator": True, "nodeVersion": {"version": "476"}}


class FakeTrinoThatHangs:
    """Accepts TCP connections and never sends a byte back."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


class FakeTrino(ThreadingHTTPServer):
    """Answers each path with a fixed (status, body); a body of bytes is sent as is.

    `short_by` cuts every body short of its Content-Length (an IncompleteRead on the client).
    Records the paths it was asked for.
    """

    def __init__(self, answers: Mapping[str, tuple[int, object]], *, short_by: int = 0) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                status, body = answers.get(self.path, (404, "not here"))
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw[: len(raw) - short_by] if short_by else raw)

            do_POST = do_GET

            def log_message(self, *_args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


def healthy_answers(**changes: tuple[int, object]) -> dict[str, tuple[int, object]]:
    answers: dict[str, tuple[int, object]] = {
        "/v1/info": (200, STARTED),
        "/v1/info/state": (200, "ACTIVE"),
        "/v1/node": (200, []),
    }
    answers.update(changes)
    return answers


@pytest.fixture
def hung() -> Iterator[FakeTrinoThatHangs]:
    server = FakeTrinoThatHangs()
    yield server
    server.close()


def probe(answers: Mapping[str, tuple[int, object]], *, short_by: int = 0) -> tuple[bool, str, list[str]]:
    server = FakeTrino(answers, short_by=short_by)
    try:
        result = probe_coordinator(TrinoAdmin(server.url, timeout=2))
    finally:
        server.shutdown()
        server.server_close()
    return result.healthy, result.reason, server.paths


def test_a_coordinator_that_hangs_fails_the_probe_within_the_timeout(hung: FakeTrinoThatHangs) -> None:
    started = time.monotonic()
    result = probe_coordinator(TrinoAdmin(hung.url, timeout=0.5))
    assert not result.healthy and result.reason.startswith("unreachable:")
    assert time.monotonic() - started < 5  # bounded by the timeout, not by the server


def test_a_started_active_coordinator_that_serves_the_management_user_is_healthy() -> None:
    assert probe(healthy_answers())[:2] == (True, "healthy")


def test_the_probe_runs_no_query_so_an_empty_fleet_or_a_full_queue_cannot_fail_it() -> None:
    """With no worker (a standby, a first deploy) Trino 476 queues every query, even EXPLAIN."""
    paths = probe(healthy_answers())[2]
    assert paths == ["/v1/info", "/v1/info/state", "/v1/node"]


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        ({"starting": True, "coordinator": True, "nodeVersion": {"version": "476"}}, "starting"),
        ({"starting": False, "coordinator": False}, "answers, but is not a coordinator"),
    ],
    ids=["starting", "a-worker"],
)
def test_a_node_that_is_not_a_ready_coordinator_fails_the_probe(info: dict[str, object], reason: str) -> None:
    assert probe(healthy_answers(**{"/v1/info": (200, info)}))[:2] == (False, reason)


def test_a_coordinator_that_is_shutting_down_fails_the_probe() -> None:
    healthy, reason, _ = probe(healthy_answers(**{"/v1/info/state": (200, "SHUTTING_DOWN")}))
    assert (healthy, reason) == (False, "state SHUTTING_DOWN, not ACTIVE")


def test_a_coordinator_that_refuses_the_management_user_fails_the_probe() -> None:
    healthy, reason, _ = probe(healthy_answers(**{"/v1/node": (403, "Management only resource")}))
    assert not healthy and reason.startswith("refuses the management user:") and "403" in reason


def test_a_truncated_answer_fails_the_probe_instead_of_escaping_it() -> None:
    """IncompleteRead (an http.client.HTTPException) once escaped the client's error mapping."""
    healthy, reason, _ = probe(healthy_answers(), short_by=3)
    assert not healthy and reason.startswith("unreachable:") and "IncompleteRead" in reason


@pytest.mark.parametrize(
    "body", [b"<html>proxy error</html>", b"\xff\xfe\x00garbage"], ids=["html", "not-utf8"]
)
def test_an_answer_that_is_not_json_fails_the_probe_instead_of_escaping_it(body: bytes) -> None:
    healthy, reason, _ = probe(healthy_answers(**{"/v1/info": (200, body)}))
    assert not healthy and reason.startswith("unreachable:") and "not JSON" in reason


def test_a_closed_port_fails_the_probe_as_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = probe_coordinator(TrinoAdmin(f"http://127.0.0.1:{port}", timeout=1))
    assert not result.healthy and "unreachable" in result.reason
