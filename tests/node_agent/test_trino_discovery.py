"""Trino's internal bearer token, as its InternalAuthenticationManager checks it (HS256; the key is
the SHA-256 of the secret up to 479, HKDF-SHA256 from 480), and the workers' hand-over.

The real servers' answers are exercised by the rollout rehearsal on Trino 476
(tests/integration/test_rollout.py) and by tests/integration/test_trino_483.py; here, the token's
shape and the hand-over at fleet size against a fake discovery.
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
    hkdf_sha256,
    internal_bearer,
)
from tests.node_agent.fake_discovery import FakeDiscovery


def _part(token: str, index: int) -> dict[str, object]:
    raw = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def test_the_token_is_signed_with_the_sha256_of_the_shared_secret() -> None:
    token = internal_bearer("s3cret", "failover", version=476, now=1_000)
    header, payload, signature = token.split(".")
    key = hashlib.sha256(b"s3cret").digest()
    expected = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert _part(token, 0)["alg"] == "HS256"


def test_the_token_names_its_subject_and_expires() -> None:
    claims = _part(internal_bearer("s3cret", "failover", version=476, now=1_000), 1)
    assert claims == {"sub": "failover", "exp": 1_000 + TOKEN_LIFETIME_SECONDS}


def test_another_secret_gives_another_signature() -> None:
    assert (
        internal_bearer("a", "f", version=476, now=1).split(".")[2]
        != internal_bearer("b", "f", version=476, now=1).split(".")[2]
    )


# --- the hand-over at fleet size (a fake discovery: 1,000 workers and a refusing target) -------


def _hand_over(source: FakeDiscovery, target: FakeDiscovery) -> int:
    return hand_over_workers(TrinoAdmin(source.url), TrinoAdmin(target.url), "s3cret", "failover")


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


def test_from_480_the_key_ishkdf_sha256_of_the_secret() -> None:
    token = internal_bearer("s3cret", "failover", version=483, now=1_000)
    header, payload, signature = token.split(".")
    key = hkdf_sha256(b"s3cret", b"internal-communication")
    expected = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert token != internal_bearer("s3cret", "failover", version=479, now=1_000)


def test_the_hkdf_is_rfc_5869s_without_a_salt() -> None:
    """RFC 5869 test case 3: IKM 22 bytes of 0x0b, no salt, no info, 42 bytes."""
    okm = hkdf_sha256(bytes([0x0B] * 22), b"", 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_a_hand_over_on_483_posts_each_announced_uri_to_the_target() -> None:
    source, target = FakeDiscovery(1000, version=483), FakeDiscovery(0, version=483)
    try:
        assert _hand_over(source, target) == 1000
    finally:
        source.close()
        target.close()
    assert "http://10.0.0.7:8080" in target.announced and len(target.announced) == 1000
