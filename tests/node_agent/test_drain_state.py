"""trino.service's start condition (`node-agent lifecycle --may-start`), read before every start: a
draining node keeps Trino down, and a worker in the group's warm pool does not start it. A warmed
worker that joined would be given tasks and then stopped under them; Trino starts on the boot out
of the pool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent.imds import Imds
from node_agent.lifecycle.command import FAIL_START, MAY_START, SKIP_START, may_start
from node_agent.lifecycle.drain_state import DrainRecord, StateStore, drain_begun
from tools.harness.fakes import FakeImds, instance_metadata

INSTANCE = "i-0123456789abcdef0"
TARGET = "autoscaling/target-lifecycle-state"


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


# --- the warm pool ---------------------------------------------------------------------------
def no_sleep(_: float) -> None:
    pass


@pytest.mark.parametrize(
    "state", ["Warmed:Pending", "Warmed:Pending:Wait", "Warmed:Stopped", "Warmed:Running"]
)
def test_a_warmed_worker_does_not_start_trino(imds: FakeImds, tmp_path: Path, state: str) -> None:
    imds.metadata[TARGET] = state
    assert may_start(tmp_path / "lifecycle.json", Imds(imds.url), sleep=no_sleep) == SKIP_START


def test_a_worker_leaving_the_warm_pool_starts_trino(imds: FakeImds, tmp_path: Path) -> None:
    imds.metadata[TARGET] = "InService"
    assert may_start(tmp_path / "lifecycle.json", Imds(imds.url), sleep=no_sleep) == MAY_START


def test_a_node_outside_an_auto_scaling_group_starts_trino(imds: FakeImds, tmp_path: Path) -> None:
    del imds.metadata[TARGET]  # IMDS answers 404 outside a group
    assert may_start(tmp_path / "lifecycle.json", Imds(imds.url), sleep=no_sleep) == MAY_START


def test_an_imds_outage_fails_the_start_rather_than_risk_a_warmed_node(
    imds: FakeImds, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imds.outage = 503
    waits: list[float] = []
    assert (
        may_start(tmp_path / "lifecycle.json", Imds(imds.url), attempts=4, sleep=waits.append) == FAIL_START
    )
    assert len(waits) == 3  # tried four times, waiting between tries
    assert "cannot read the target lifecycle state after 4 tries" in capsys.readouterr().err


def test_imds_answering_again_within_the_tries_lets_trino_start(imds: FakeImds, tmp_path: Path) -> None:
    imds.outage = 503

    def imds_recovers(_: float) -> None:
        imds.outage = None

    assert (
        may_start(tmp_path / "lifecycle.json", Imds(imds.url), attempts=3, sleep=imds_recovers) == MAY_START
    )


def test_the_tries_wait_about_thirty_seconds_in_all(imds: FakeImds, tmp_path: Path) -> None:
    imds.outage = 503
    waits: list[float] = []
    may_start(tmp_path / "lifecycle.json", Imds(imds.url), sleep=waits.append)
    assert 20 <= sum(waits) <= 45


def test_a_drain_record_keeps_trino_down_whatever_the_target_state(imds: FakeImds, tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.json"
    StateStore(path).save(DrainRecord(INSTANCE, "target lifecycle state is Terminated", started_at=1.0))
    imds.metadata[TARGET] = "InService"
    assert may_start(path, Imds(imds.url), sleep=no_sleep) == SKIP_START
