"""Stand-ins for the two things the agent talks to that no local real component provides.

- FakeImds: EC2's instance metadata service exists only on an instance, and moto serves none. It is
  a loopback HTTP server that insists on IMDSv2 tokens like the real one, so the agent's token
  handling is exercised, and lets a test change what the instance "sees" (target lifecycle state,
  spot notice) while the agent runs.
- StandInLifecycleApi: moto does not implement CompleteLifecycleAction or
  RecordLifecycleActionHeartbeat. It answers exactly those two operations on a boto3 client (a
  botocore before-call handler) and records them; every other call still goes to moto.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError


class FakeImds:
    """A loopback IMDSv2: PUT /latest/api/token, then GETs with the token header."""

    def __init__(self, metadata: dict[str, str] | None = None) -> None:
        self.metadata: dict[str, str] = dict(metadata or {})
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, had a valid token)
        self.outage: int | None = None  # an HTTP status every request gets, as in an IMDS outage
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                if fake.outage:
                    self._answer(fake.outage, "unavailable")
                    return
                if self.path != "/latest/api/token" or not self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                ):
                    self._answer(400, "bad token request")
                    return
                token = secrets.token_urlsafe(24)
                with fake._lock:
                    fake.tokens.add(token)
                    fake.requests.append(("PUT", self.path, True))
                self._answer(200, token)

            def do_GET(self) -> None:
                if fake.outage:
                    self._answer(fake.outage, "unavailable")
                    return
                token = self.headers.get("X-aws-ec2-metadata-token")
                with fake._lock:
                    valid = token in fake.tokens
                    fake.requests.append(("GET", self.path, valid))
                    value = fake.metadata.get(self.path.removeprefix("/latest/meta-data/"))
                if not valid:
                    self._answer(401, "IMDSv2 token required")
                elif value is None:
                    self._answer(404, "not found")
                else:
                    self._answer(200, value)

            def _answer(self, status: int, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def set(self, path: str, value: str | dict[str, Any] | None) -> None:
        """Make `path` answer `value` (JSON for dicts), or 404 for None."""
        with self._lock:
            if value is None:
                self.metadata.pop(path, None)
            else:
                self.metadata[path] = json.dumps(value) if isinstance(value, dict) else value

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def instance_metadata(instance_id: str, *, private_ip: str = "10.0.1.17") -> dict[str, str]:
    return {
        "instance-id": instance_id,
        "instance-type": "r6i.xlarge",
        "local-ipv4": private_ip,
        "placement/availability-zone": "eu-west-1a",
        "autoscaling/target-lifecycle-state": "InService",
    }


@dataclass
class RecordedCall:
    operation: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    observed: object = None  # what `observe` returned at the moment of the call


@dataclass
class StandInLifecycleApi:
    """Answers CompleteLifecycleAction / RecordLifecycleActionHeartbeat in place of moto.

    Like AWS, it refuses calls after the action was completed ("No active Lifecycle Action found").
    """

    calls: list[RecordedCall] = field(default_factory=list)
    observe: Callable[[], object] | None = None  # e.g. "has Trino exited?", checked inside the call
    _completed: set[tuple[str, str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> Any:
        for operation in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            client.meta.events.register(f"before-call.auto-scaling.{operation}", self._answer)
        return client

    def completions(self) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.operation == "CompleteLifecycleAction"]

    def heartbeats(self) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.operation == "RecordLifecycleActionHeartbeat"]

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = dict(params["body"])  # the request as serialized for the wire (query protocol)
        params.pop("Action", None)
        params.pop("Version", None)
        key = (params["AutoScalingGroupName"], params["LifecycleHookName"], params.get("InstanceId", ""))
        with self._lock:
            if key in self._completed:
                raise ClientError(
                    {"Error": {"Code": "ValidationError", "Message": "No active Lifecycle Action found"}},
                    model.name,
                )
            if model.name == "CompleteLifecycleAction":
                if params.get("LifecycleActionResult") not in ("CONTINUE", "ABANDON"):
                    raise ClientError(
                        {"Error": {"Code": "ValidationError", "Message": "bad LifecycleActionResult"}},
                        model.name,
                    )
                self._completed.add(key)
            observed = self.observe() if self.observe else None
            self.calls.append(RecordedCall(model.name, dict(params), time.monotonic(), observed))
        response = AWSResponse("https://stand-in.local/", 200, {}, None)
        return response, {"ResponseMetadata": {"HTTPStatusCode": 200}}


class FakeTrinoNode:
    """The two calls the lifecycle agent makes to its local Trino, for unit tests of its decisions.

    The real exchange (PUT as the management user, file rules, the process exiting) is proven on a
    real Trino 476 in tests/integration/test_drain.py; this fake exists to inject what a real
    server will not do on demand: refuse the shutdown, stop answering, or come back ACTIVE.
    """

    def __init__(self) -> None:
        self.current_state = "ACTIVE"
        self.shutdown_calls = 0  # successful shutdown requests
        self.shutdown_attempts = 0  # every PUT, answered with success or not
        self.fault: Exception | None = None  # raised by every call: Trino down or broken
        self.refusal: Exception | None = None  # raised by the PUT only, as an access rule would

    def restart(self) -> None:
        """What systemd's Restart=on-failure does after a crash: a new server, ACTIVE again."""
        self.current_state = "ACTIVE"

    def state(self) -> str:
        if self.fault:
            raise self.fault
        return self.current_state

    def shutdown(self) -> None:
        if self.fault:
            raise self.fault
        self.shutdown_attempts += 1
        if self.refusal:
            raise self.refusal
        self.shutdown_calls += 1
        self.current_state = "SHUTTING_DOWN"
