"""Handing the workers' announcements from one coordinator to another (Trino 476's discovery).

Every node announces itself to `discovery.uri`, the coordinator address, so a standby coordinator
knows no worker until the address has moved to it; then the workers re-announce within a few
seconds and Trino rebuilds its node map on a 5 s timer. Queries that reach the new holder in that
window queue, or fail with NO_NODES_AVAILABLE (seen in bench/rollout.py: the first query on the
new coordinator failed). The switchover closes the window by copying the holder's worker
announcements to the target before it moves the address, so the target schedules on every worker
from its first query. The copies expire like any announcement (30 s in the discovery store) and
are replaced by the workers' own once they announce to the new holder.

The discovery endpoints are internal: Trino accepts them only with its internal JWT (HS256, keyed
by the SHA-256 of the cluster's shared secret, in X-Trino-Internal-Bearer; a wrong key gets 401).
Standard library only, like node_agent.trino.admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from node_agent.trino.admin import TrinoAdmin, TrinoUnavailable

TOKEN_LIFETIME_SECONDS = 300
SERVICE_TYPE = "trino"
PARALLEL_PUTS = 16  # announcements in flight at once to the target coordinator


def internal_bearer(shared_secret: str, subject: str, *, now: float | None = None) -> str:
    """A token Trino's InternalAuthenticationManager accepts: HS256 over the secret's SHA-256."""
    key = hashlib.sha256(shared_secret.encode()).digest()
    issued = int(time.time() if now is None else now)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": subject, "exp": issued + TOKEN_LIFETIME_SECONDS}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def worker_announcements(source: TrinoAdmin, token: str) -> list[dict[str, Any]]:
    """The announcements of every worker `source` knows, as each worker would PUT them."""
    answer = source.internal_json("GET", f"/v1/service/{SERVICE_TYPE}", token)
    if not isinstance(answer, dict) or not isinstance(answer.get("services"), list):
        raise TrinoUnavailable(f"GET /v1/service/{SERVICE_TYPE} on {source.base_url}: no service list")
    announcements = []
    for service in answer["services"]:
        properties = service.get("properties") or {}
        if properties.get("coordinator") == "true":
            continue
        announcements.append(
            {
                "nodeId": service["nodeId"],
                "environment": answer.get("environment"),
                "pool": service.get("pool", "general"),
                "location": service.get("location"),
                "services": [{"id": service["id"], "type": service["type"], "properties": properties}],
            }
        )
    return announcements


def hand_over_workers(source: TrinoAdmin, target: TrinoAdmin, token: str) -> int:
    """Announce every worker `source` knows to `target`; the number of workers announced.

    PARALLEL_PUTS at a time: one after another, 1,000 workers at ~10 ms per HTTPS PUT took ~10 s,
    as long as the switchover's refresh interval. Every PUT is tried; the first failure is raised
    after the others are done, so one worker's refused copy does not cost the rest theirs.
    """
    announcements = worker_announcements(source, token)

    def announce(announcement: dict[str, Any]) -> None:
        body = {k: v for k, v in announcement.items() if k != "nodeId"}
        target.internal_json("PUT", f"/v1/announcement/{announcement['nodeId']}", token, body)

    with ThreadPoolExecutor(max_workers=PARALLEL_PUTS, thread_name_prefix="announce") as pool:
        futures = [pool.submit(announce, a) for a in announcements]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return len(announcements)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
