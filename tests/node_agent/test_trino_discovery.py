"""Trino's internal bearer token, as its InternalAuthenticationManager checks it (HS256, SHA-256 key).

The real server's answer (202 for a valid token, 401 for a wrong key) is exercised by the rollout
rehearsal on Trino 476 (tests/integration/test_rollout.py); here, the token's shape.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from node_agent.trino.admin import TrinoAdmin, TrinoError
from node_agent.trino.discovery import (
    PARALLEL_PUTS,
    TOKEN_LIFETIME_SECONDS,
    hand_over_workers,
    internal_bearer,
)
from tests.node_agent.fake_discovery import FakeDiscovery


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


# --- the hand-over at fleet size (a fake discovery: 1,000 workers and a refusing target) -------


def _hand_over(source: FakeDiscovery, target: FakeDiscovery) -> int:
    return hand_over_workers(TrinoAdmin(source.url), TrinoAdmin(target.url), internal_bearer("s", "failover"))


def test_a_hand_over_of_1000_workers_announces_every_one_but_no_coordinator() -> None:
    source, target = FakeDiscovery(1000), FakeDiscovery(0)
    try:
        assert _hand_over(source, target) == 1000
    finally:
        source.close()
        target.close()
    assert set(target.announced) == {f"worker-{n}" for n in range(1000)}
    assert target.announced["worker-7"]["services"][0]["properties"]["http"] == "http://10.0.0.7:8080"


def test_a_hand_over_puts_announcements_in_parallel_within_the_bound() -> None:
    source, target = FakeDiscovery(200), FakeDiscovery(0, delay=0.01)
    try:
        _hand_over(source, target)
    finally:
        source.close()
        target.close()
    assert 1 < target.most_in_flight <= PARALLEL_PUTS


def test_a_refused_announcement_is_raised_after_every_other_worker_is_announced() -> None:
    source, target = FakeDiscovery(300), FakeDiscovery(0, refuse=frozenset({"worker-3"}))
    try:
        with pytest.raises(TrinoError, match="HTTP 500"):
            _hand_over(source, target)
    finally:
        source.close()
        target.close()
    assert len(target.announced) == 299
