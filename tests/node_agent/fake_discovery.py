"""A stand-in for the two coordinators of a hand-over: one lists N workers, the other takes PUTs.

Trino's discovery endpoints answer the real hand-over in the rollout rehearsal (Trino 476); this
stand-in exists to put 1,000 workers and a slow or refusing target behind them, which a local
Trino cannot. It records each PUT and how many were in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    # The hand-over opens PARALLEL_PUTS connections at once; the default listen backlog of 5
    # would refuse some of them on a busy machine, a fault of this fake, not of a coordinator.
    request_queue_size = 128


class FakeDiscovery:
    """Serves GET /v1/service/trino with `workers` workers; PUT /v1/announcement/<id> takes `delay` s."""

    def __init__(
        self, workers: int, delay: float = 0.0, refuse: frozenset[str] = frozenset(), version: int = 476
    ) -> None:
        self.workers, self.delay, self.refuse, self.version = workers, delay, refuse, version
        self.announced: dict[str, Any] = {}
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def services(self) -> dict[str, Any]:
        workers = [
            {
                "id": f"s{n}",
                "nodeId": f"worker-{n}",
                "type": "trino",
                "pool": "general",
                "location": f"/worker-{n}",
                "properties": {"http": f"http://10.0.{n // 250}.{n % 250}:8080"},
            }
            for n in range(self.workers)
        ]
        coordinator = {
            "id": "c",
            "nodeId": "coordinator",
            "type": "trino",
            "properties": {"coordinator": "true"},
        }
        return {"environment": "prod", "services": [coordinator, *workers]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/v1/info":
                    info = {"nodeVersion": {"version": str(stand_in.version)}, "coordinator": True}
                    self._answer(200, json.dumps(info).encode())
                elif self.path == "/v1/announce":  # 477+: the URIs that announced here
                    uris = [f"http://10.0.{n // 250}.{n % 250}:8080" for n in range(stand_in.workers)]
                    self._answer(200, json.dumps(uris).encode())
                else:
                    self._answer(200, json.dumps(stand_in.services()).encode())

            def do_POST(self) -> None:  # 477+: POST /v1/announce, the node's URI as text
                uri = self.rfile.read(int(self.headers["Content-Length"])).decode()
                self._take(uri, uri, 204)

            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._take(self.path.rsplit("/", 1)[1], body, 202)

            def _take(self, node_id: str, body: Any, status: int) -> None:
                with stand_in._lock:
                    stand_in.in_flight += 1
                    stand_in.most_in_flight = max(stand_in.most_in_flight, stand_in.in_flight)
                time.sleep(stand_in.delay)
                with stand_in._lock:
                    stand_in.in_flight -= 1
                    if node_id not in stand_in.refuse:
                        stand_in.announced[node_id] = body
                self._answer(500 if node_id in stand_in.refuse else status, b"")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
