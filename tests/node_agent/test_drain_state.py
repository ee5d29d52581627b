"""The drain record as trino.service reads it before every start: a draining node keeps Trino down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent.imds import Imds
from node_agent.lifecycle.command import may_start
from node_agent.lifecycle.drain_state import DrainRecord, StateStore, drain_begun
from tools.harness.fakes import FakeImds, instance_metadata

INSTANCE = "i-0123456789abcdef0"


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    fake = FakeImds(instance_metadata(INSTANCE))
    try:
        yield fake
    finally:
        fake.stop()


def record_for(path: Path, instance_id: str) -> Path:
    StateStore(path).save(DrainRecord(instance_id, "spot interruption notice", started_at=1.0))
    return path


def test_trino_restarted_mid_drain_may_not_start(imds: FakeImds, tmp_path: Path) -> None:
    path = record_for(tmp_path / "lifecycle.json", INSTANCE)
    assert may_start(path, Imds(imds.url)) == 1


def test_trino_may_start_when_no_drain_has_begun(imds: FakeImds, tmp_path: Path) -> None:
    assert may_start(tmp_path / "lifecycle.json", Imds(imds.url)) == 0


def test_a_drain_record_of_another_instance_does_not_keep_trino_down(imds: FakeImds, tmp_path: Path) -> None:
    path = record_for(tmp_path / "lifecycle.json", "i-baked-into-the-image")
    assert may_start(path, Imds(imds.url)) == 0


def test_without_imds_any_drain_record_keeps_trino_down(imds: FakeImds, tmp_path: Path) -> None:
    path = record_for(tmp_path / "lifecycle.json", "i-whoever")
    imds.outage = 503
    assert may_start(path, Imds(imds.url)) == 1


def test_a_completed_drain_still_keeps_trino_down(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.json"
    StateStore(path).save(DrainRecord(INSTANCE, "x", 1.0, completed=True, completion_reason="done"))
    assert drain_begun(path, INSTANCE) is not None


def test_an_unreadable_record_lets_trino_start_and_is_left_for_the_agent(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.json"
    path.write_text("{half a reco")
    assert drain_begun(path, INSTANCE) is None
    assert path.read_text() == "{half a reco"


def test_a_record_written_before_the_new_fields_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps({"instance_id": INSTANCE, "reason": "x", "started_at": 1.0}))
    loaded = StateStore(path).load(INSTANCE)
    assert loaded is not None and loaded.target_state is None and loaded.shutdown_requests == 0


def test_the_reason_names_the_drain(tmp_path: Path) -> None:
    path = record_for(tmp_path / "lifecycle.json", INSTANCE)
    assert "spot interruption notice" in str(drain_begun(path, INSTANCE))
