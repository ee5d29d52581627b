"""The coordinator probe against faults a real Trino cannot be made to show on demand.

A real Trino 476 answers the healthy and the stopped cases (integration suite). Here two small
fake servers inject what it cannot: a coordinator that accepts connections and never answers (a
hung JVM, a full GC), and one that stays `starting` (it is starting for only a second or two).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from failover_watch import probe_coordinator

from node_agent.trino import TrinoAdmin


class FakeTrinoThatHangs:
    """Accepts TCP connections and never sends a byte back."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


class FakeTrinoFixedInfo(ThreadingHTTPServer):
    """Answers every GET with one fixed /v1/info body (a coordinator still starting, a worker)."""

    def __init__(self, info: dict[str, object]) -> None:
        body = json.dumps(info).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def hung() -> Iterator[FakeTrinoThatHangs]:
    server = FakeTrinoThatHangs()
    yield server
    server.close()


def test_a_coordinator_that_hangs_fails_the_probe_within_the_timeout(hung: FakeTrinoThatHangs) -> None:
    started = time.monotonic()
    probe = probe_coordinator(TrinoAdmin(hung.url, timeout=0.5))
    assert not probe.healthy and probe.reason.startswith("unreachable:")
    assert time.monotonic() - started < 5  # bounded by the timeout, not by the server


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        ({"starting": True, "coordinator": True, "nodeVersion": {"version": "476"}}, "starting"),
        ({"starting": False, "coordinator": False}, "answers, but is not a coordinator"),
    ],
    ids=["starting", "a-worker"],
)
def test_a_node_that_is_not_a_ready_coordinator_fails_the_probe(info: dict[str, object], reason: str) -> None:
    server = FakeTrinoFixedInfo(info)
    try:
        probe = probe_coordinator(TrinoAdmin(server.url, timeout=2))
    finally:
        server.shutdown()
        server.server_close()
    assert (probe.healthy, probe.reason) == (False, reason)


def test_a_closed_port_fails_the_probe_as_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = probe_coordinator(TrinoAdmin(f"http://127.0.0.1:{port}", timeout=1))
    assert not probe.healthy and "unreachable" in probe.reason
