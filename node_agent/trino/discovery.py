"""Handing the workers' announcements from one coordinator to another (Airlift discovery up to
476, announce discovery from 477).

Every node announces itself to `discovery.uri`, the coordinator address, so a standby coordinator
knows no worker until the address has moved to it; then the workers re-announce within a few
seconds and Trino rebuilds its node map on a 5 s timer. Queries that reach the new holder in that
window queue, or fail with NO_NODES_AVAILABLE (seen in bench/rollout.py: the first query on the
new coordinator failed). The switchover closes the window by copying the holder's worker
announcements to the target before it moves the address, so the target schedules on every worker
from its first query. The copies expire like any announcement (30 s in the discovery store) and
are replaced by the workers' own once they announce to the new holder.

The discovery endpoints are internal: Trino accepts them only with its internal JWT (HS256 in
X-Trino-Internal-Bearer, keyed from the cluster's shared secret, see internal_bearer; a wrong key
gets 401). On 477+ every node POSTs its URI to each `discovery.uri` every 5 s and a coordinator
polls each announced node's /v1/info; the copies expire after 30 s like the nodes' own.
Standard library only, like node_agent.trino.admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from node_agent.trino.admin import TrinoAdmin, TrinoUnavailable
from node_agent.trino.versions import has_announce_discovery

TOKEN_LIFETIME_SECONDS = 300
SERVICE_TYPE = "trino"
HKDF_SINCE = 480
HKDF_INFO = b"internal-communication"
PARALLEL_PUTS = 16  # announcements in flight at once to the target coordinator


def internal_bearer(shared_secret: str, subject: str, *, version: int, now: float | None = None) -> str:
    """A token Trino's InternalAuthenticationManager accepts (HS256, X-Trino-Internal-Bearer).

    The key is the SHA-256 of the shared secret up to 479; from 480 it is HKDF-SHA256 of it (no
    salt, info "internal-communication", 32 bytes: javax.crypto.KDF in 480's expandKey, read from
    the trino-main jars; a SHA-256 key gets 401 on a real 483).
    """
    key = hkdf_sha256(shared_secret.encode(), HKDF_INFO) if version >= HKDF_SINCE else _sha256(shared_secret)
    issued = int(time.time() if now is None else now)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": subject, "exp": issued + TOKEN_LIFETIME_SECONDS}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def node_version(admin: TrinoAdmin) -> int:
    """The release a node runs, from GET /v1/info (`nodeVersion.version`, e.g. "483")."""
    info = admin.info()
    text = str(((info or {}).get("nodeVersion") or {}).get("version", ""))
    digits = text.split("-", 1)[0]
    if not digits.isdigit():
        raise TrinoUnavailable(f"GET /v1/info on {admin.base_url}: no release number in {text!r}")
    return int(digits)


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


def hand_over_workers(source: TrinoAdmin, target: TrinoAdmin, shared_secret: str, subject: str) -> int:
    """Announce every worker `source` knows to `target`; the number of workers announced.

    Up to 476 (Airlift discovery) each worker's announcement is copied from the source's discovery
    store; from 477 (announce discovery) each announced URI is POSTed to the target, which then
    polls that node's /v1/info like any other (measured on a real 483: 204, listed at once).
    PARALLEL_PUTS at a time: one after another, 1,000 workers at ~10 ms a request took ~10 s, as
    long as the switchover's refresh interval. Every request is tried; the first failure is raised
    after the others are done, so one worker's refused copy does not cost the rest theirs.
    """
    version = node_version(target)
    token = internal_bearer(shared_secret, subject, version=version)
    if has_announce_discovery(version):
        own = target.base_url.rstrip("/")
        uris = [u for u in source.announced() if u.rstrip("/") != own]
        return _each(uris, lambda uri: target.internal_announce(uri, token))
    announcements = worker_announcements(
        source, internal_bearer(shared_secret, subject, version=node_version(source))
    )

    def announce(announcement: dict[str, Any]) -> None:
        body = {k: v for k, v in announcement.items() if k != "nodeId"}
        target.internal_json("PUT", f"/v1/announcement/{announcement['nodeId']}", token, body)

    return _each(announcements, announce)


def _each(items: list[Any], call: Callable[[Any], None]) -> int:
    with ThreadPoolExecutor(max_workers=PARALLEL_PUTS, thread_name_prefix="announce") as pool:
        futures = [pool.submit(call, item) for item in items]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return len(items)


def _sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def hkdf_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF with SHA-256 and no salt (HashLen zero bytes), as javax.crypto.KDF does."""
    prk = hmac.new(b"\0" * hashlib.sha256().digest_size, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
