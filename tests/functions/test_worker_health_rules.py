"""Worker-health rules over plain values: which workers fail a check, which are replaced."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.worker_health.rules import CoordinatorView, Worker, plan, unhealthy_limit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def worker(iid: str, **changes: Any) -> Worker:
    base = Worker(
        instance_id=iid,
        lifecycle_state="InService",
        health_status="Healthy",
        ec2_state="running",
        launched_at=NOW - timedelta(hours=1),
        misses=0,
    )
    return replace(base, **changes)


def view(*active: str, **other_states: str) -> CoordinatorView:
    return CoordinatorView({**dict.fromkeys(active, "active"), **other_states})


def run(workers: list[Worker], coordinator: CoordinatorView, **kwargs: Any) -> Any:
    settings: dict[str, Any] = {
        "failed_checks": 3,
        "grace": timedelta(minutes=10),
        "now": NOW,
        "max_fraction": 0.25,
    }
    settings.update(kwargs)
    return plan(workers, coordinator, **settings)


def test_an_active_worker_passes_and_its_count_is_reset() -> None:
    (check,) = run([worker("i-a", misses=2)], view("i-a")).checks
    assert (check.misses_after, check.reason) == (0, "active")


def test_a_worker_the_coordinator_does_not_know_fails_the_check() -> None:
    result = run([worker("i-a"), worker("i-b")], view("i-a"))
    assert [(c.instance_id, c.misses_after, c.reason) for c in result.checks] == [
        ("i-a", 0, "active"),
        ("i-b", 1, "not known to the coordinator"),
    ]
    assert result.mark == []


@pytest.mark.parametrize("state", ["inactive", "shutting_down", "drained"])
def test_a_worker_the_coordinator_reports_in_another_state_fails_the_check(state: str) -> None:
    (check,) = run([worker("i-a")], view(**{"i-a": state})).checks
    assert (check.misses_after, check.reason) == (1, f"coordinator reports it {state}")


def test_a_worker_is_marked_on_its_third_failed_check_in_a_row() -> None:
    workers = [worker("i-a", misses=2), worker("i-b"), worker("i-c"), worker("i-d")]
    assert run(workers, view("i-b", "i-c", "i-d")).mark == ["i-a"]


def test_two_failed_checks_are_not_enough() -> None:
    workers = [worker("i-a", misses=1), worker("i-b"), worker("i-c"), worker("i-d")]
    assert run(workers, view("i-b", "i-c", "i-d")).mark == []


def test_a_worker_within_the_grace_period_is_not_checked() -> None:
    young = worker("i-a", launched_at=NOW - timedelta(minutes=3), misses=5)
    result = run([young], view())
    assert result.checks == [] and result.mark == []
    assert "within the grace period" in result.skipped["i-a"]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"lifecycle_state": "Pending"}, "lifecycle state Pending"),
        ({"lifecycle_state": "Terminating:Wait"}, "lifecycle state Terminating:Wait"),
        ({"health_status": "Unhealthy"}, "already Unhealthy"),
        ({"ec2_state": "stopped"}, "EC2 state stopped"),
        ({"ec2_state": "missing"}, "EC2 state missing"),
    ],
)
def test_a_worker_the_group_is_not_serving_from_is_not_checked(changes: dict[str, str], why: str) -> None:
    result = run([worker("i-a", misses=9, **changes)], view())
    assert result.mark == []
    assert result.skipped["i-a"].startswith(why)


def test_no_more_than_the_fraction_is_marked_and_the_longest_failing_go_first() -> None:
    workers = [worker("i-a", misses=2), worker("i-b", misses=5), worker("i-c", health_status="Unhealthy")]
    workers += [worker(f"i-{n}") for n in "defgh"]
    result = run(workers, view(*[f"i-{n}" for n in "defgh"]))
    assert (result.limit, result.already_unhealthy, result.systemic) == (2, 1, False)
    assert result.mark == ["i-b"]
    assert result.held_back == ["i-a"]


def test_a_systemic_fault_marks_none() -> None:
    # 20 workers, none able to register: the cap (5) must not replace the fleet in waves.
    workers = [worker(f"i-{n:02}", misses=2) for n in range(20)]
    result = run(workers, view(), max_fraction=0.25)
    assert (result.limit, result.systemic) == (5, True)
    assert result.mark == []
    assert len(result.held_back) == 20


def test_failing_as_many_as_may_be_replaced_is_not_systemic() -> None:
    workers = [worker("i-a", misses=2), worker("i-b", misses=2)] + [worker(f"i-{n}") for n in "cdefgh"]
    result = run(workers, view(*[f"i-{n}" for n in "cdefgh"]), max_fraction=0.25)
    assert (result.systemic, result.mark) == (False, ["i-a", "i-b"])


def test_workers_in_the_grace_period_do_not_count_towards_a_systemic_fault() -> None:
    young = NOW - timedelta(minutes=1)
    workers = [worker("i-a", misses=2)] + [worker(f"i-{n}", launched_at=young) for n in "bcd"]
    result = run(workers, view(), max_fraction=0.25)
    assert (result.systemic, result.mark) == (False, ["i-a"])


def test_workers_already_being_replaced_count_against_the_fraction() -> None:
    workers = [worker("i-a", misses=2), worker("i-b", health_status="Unhealthy")] + [
        worker(f"i-{n}") for n in "cdefgh"
    ]
    result = run(workers, view(*[f"i-{n}" for n in "cdefgh"]), max_fraction=0.25)
    assert (result.limit, result.already_unhealthy, result.mark) == (2, 1, ["i-a"])
    workers.append(worker("i-z", lifecycle_state="Terminating:Wait"))
    result = run(workers, view(*[f"i-{n}" for n in "cdefgh"]), max_fraction=0.25)
    assert (result.mark, result.held_back) == ([], ["i-a"])


def test_a_small_fleet_may_still_replace_one_worker() -> None:
    result = run([worker("i-a", misses=2), worker("i-b")], view("i-b"), max_fraction=0.25)
    assert result.mark == ["i-a"]


def test_a_fraction_of_zero_turns_marking_off() -> None:
    result = run([worker("i-a", misses=7)], view(), max_fraction=0.0)
    assert (result.mark, result.held_back) == ([], ["i-a"])


@pytest.mark.parametrize(
    ("fleet", "fraction", "limit"),
    [(0, 0.5, 0), (1, 0.25, 1), (4, 0.25, 1), (8, 0.25, 2), (10, 0.34, 3), (3, 1.0, 3), (5, 0.0, 0)],
)
def test_the_unhealthy_limit(fleet: int, fraction: float, limit: int) -> None:
    assert unhealthy_limit(fleet, fraction) == limit
