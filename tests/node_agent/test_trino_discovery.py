"""Trino's internal bearer token, as its InternalAuthenticationManager checks it (HS256, SHA-256 key).

The real server's answer (202 for a valid token, 401 for a wrong key) is exercised by the rollout
rehearsal on Trino 476 (tests/integration/test_rollout.py); here, the token's shape.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from node_agent.trino.discovery import TOKEN_LIFETIME_SECONDS, internal_bearer


def _part(token: str, index: int) -> dict[str, object]:
    raw = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def test_the_token_is_signed_with_the_sha256_of_the_shared_secret() -> None:
    token = internal_bearer("s3cret", "failover", now=1_000)
    header, payload, signature = token.split(".")
    key = hashlib.sha256(b"s3cret").digest()
    expected = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert _part(token, 0)["alg"] == "HS256"


def test_the_token_names_its_subject_and_expires() -> None:
    claims = _part(internal_bearer("s3cret", "failover", now=1_000), 1)
    assert claims == {"sub": "failover", "exp": 1_000 + TOKEN_LIFETIME_SECONDS}


def test_another_secret_gives_another_signature() -> None:
    assert internal_bearer("a", "f", now=1).split(".")[2] != internal_bearer("b", "f", now=1).split(".")[2]
