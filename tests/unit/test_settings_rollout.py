"""Bad rollout settings and schedules are refused before anything is declared, naming the key."""

from __future__ import annotations

import json

import pytest

from components.settings.model import ConfigError, WorkerSchedule
from components.settings.parse import parse
from tests.unit.test_settings_validation import VALID, only


def schedules(*items: object) -> dict[str, str]:
    return {"workerSchedules": json.dumps(list(items))}


NIGHTS = {"name": "nights", "recurrence": "0 20 * * 1-5", "minSize": 0, "desiredCapacity": 0}


def test_valid_schedules_parse_with_their_sizes() -> None:
    raw = {**VALID, "presto-on-aws:workerSchedules": json.dumps([NIGHTS])}
    (schedule,) = parse("test", raw).rollout.worker_schedules
    assert schedule == WorkerSchedule("nights", "0 20 * * 1-5", "UTC", 0, None, 0)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("[50, 90]", "the last checkpoint must be 100"),
        ("[50, 20, 100]", "not strictly ascending"),
        ("[0, 100]", "every item must be an integer 1-100"),
        ('"half"', "must be a list"),
    ],
)
def test_bad_checkpoints_are_refused(value: str, reason: str) -> None:
    problem = only({"rolloutCheckpointPercentages": value})
    assert problem.startswith("presto-on-aws:rolloutCheckpointPercentages:")
    assert reason in problem


def test_checkpoint_delay_without_checkpoints_is_refused() -> None:
    problem = only({"rolloutCheckpointDelaySeconds": "600"})
    assert problem.startswith("presto-on-aws:rolloutCheckpointDelaySeconds:")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("rolloutMinHealthyPercent", "101"),
        ("rolloutInstanceWarmupSeconds", "-1"),
        ("rolloutQuietWaitSeconds", "3601"),
        ("rolloutStandbyWaitMinutes", "0"),
        ("rolloutStandbyWaitMinutes", "421"),
        ("rolloutAutoRollback", "maybe"),
    ],
)
def test_out_of_range_rollout_values_are_refused(key: str, value: str) -> None:
    assert only({key: value}).startswith(f"presto-on-aws:{key}:")


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**NIGHTS, "recurrence": "every night"}, "is not a cron expression"),
        ({**NIGHTS, "recurrence": "0 20 * *"}, "is not a cron expression"),
        ({**NIGHTS, "name": "Nights!"}, "name 'Nights!' is not valid"),
        ({**NIGHTS, "minSize": 3, "maxSize": 2}, "minSize 3 is greater than maxSize 2"),
        ({**NIGHTS, "desiredCapacity": 5, "maxSize": 2}, "desiredCapacity 5 is outside 0..2"),
        ({**NIGHTS, "minSize": -1}, "minSize -1 is not an integer 0-1000"),
        ({"name": "empty", "recurrence": "0 1 * * *"}, "sets no size"),
        ({**NIGHTS, "size": 3}, "unknown field(s) ['size']"),
        ({**NIGHTS, "timeZone": "Dublin time"}, "is not an IANA time zone"),
        ("nights", "is not a map"),
    ],
)
def test_bad_schedule_is_refused_naming_the_key_and_item(item: object, reason: str) -> None:
    problem = only(schedules(item))
    assert problem.startswith("presto-on-aws:workerSchedules: item 0")
    assert reason in problem


def test_desired_capacity_alone_must_fit_the_configured_worker_bounds() -> None:
    problem = only(schedules({"name": "peak", "recurrence": "0 8 * * *", "desiredCapacity": 9}))
    assert "desiredCapacity 9 is outside 1..4" in problem  # workerMinSize 1, workerMaxSize 4


def test_schedule_names_must_be_unique() -> None:
    assert "used twice" in only(schedules(NIGHTS, NIGHTS))


def test_every_rollout_problem_is_reported_at_once() -> None:
    raw = {
        **VALID,
        "presto-on-aws:rolloutMinHealthyPercent": "150",
        "presto-on-aws:rolloutCheckpointPercentages": "[10, 50]",
        "presto-on-aws:workerSchedules": json.dumps([{**NIGHTS, "recurrence": "x"}]),
    }
    with pytest.raises(ConfigError) as caught:
        parse("test", raw)
    keys = {p.split(":")[1] for p in caught.value.problems}
    assert keys == {"rolloutMinHealthyPercent", "rolloutCheckpointPercentages", "workerSchedules"}
