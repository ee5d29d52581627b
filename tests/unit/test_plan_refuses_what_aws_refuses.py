"""Issue 24: mistakes in a copy of Pulumi.dev.yaml that `make plan` once accepted and AWS or Trino
refuse at `pulumi up`. Each is now refused by the plan, naming the key and what is allowed."""

from __future__ import annotations

import pytest

from components.settings.model import ConfigError
from components.settings.schedule import recurrence_problem, time_zone_problem
from components.settings.stack_file import load_stack_settings

DEV_SCHEDULES = [
    {
        "name": "evenings",
        "recurrence": "0 20 * * 1-5",
        "timeZone": "Europe/Dublin",
        "minSize": 0,
        "desiredCapacity": 0,
    },
    {
        "name": "mornings",
        "recurrence": "0 7 * * 1-5",
        "timeZone": "Europe/Dublin",
        "minSize": 1,
        "desiredCapacity": 2,
    },
]


def dev_problems(overrides: dict[str, object]) -> list[str]:
    """What the plan refuses in Pulumi.dev.yaml with `overrides` applied."""
    with pytest.raises(ConfigError) as caught:
        load_stack_settings("dev", overrides)
    return caught.value.problems


def only_dev_problem(overrides: dict[str, object]) -> str:
    found = dev_problems(overrides)
    assert len(found) == 1, found
    return found[0]


def with_evenings(**changes: object) -> dict[str, object]:
    return {"workerSchedules": [{**DEV_SCHEDULES[0], **changes}, DEV_SCHEDULES[1]]}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_still_pass(stack: str) -> None:
    assert load_stack_settings(stack).stack == stack


# --- 1. a schedule at hour 25 ----------------------------------------------------------------------


def test_a_schedule_at_hour_25_is_refused_naming_the_schedule() -> None:
    problem = only_dev_problem(with_evenings(recurrence="0 25 * * 1-5"))
    assert problem == (
        "presto-on-aws:workerSchedules: item 0 (evenings): recurrence '0 25 * * 1-5': "
        "hour '25' is out of range (allowed: 0-23, with * , - /)"
    )


@pytest.mark.parametrize(
    ("recurrence", "reason"),
    [
        ("60 20 * * 1-5", "minute '60' is out of range (allowed: 0-59"),
        ("0 20 0 * *", "day-of-month '0' is out of range (allowed: 1-31"),
        ("0 20 32 * *", "day-of-month '32' is out of range (allowed: 1-31"),
        ("0 20 * 13 *", "month '13' is out of range (allowed: 1-12 or JAN-DEC"),
        (
            "0 20 * * 7",
            "day-of-week '7' is out of range (allowed: 0-6 or SUN-SAT, with * , - /; Sunday is 0)",
        ),
        ("0 1,25 * * *", "hour '1,25' has '25', out of range,"),
        ("0 20 * * 5-1", "is a range from 5 down to 1"),
        ("*/0 * * * *", "minute '*/0' has step 0 (allowed: 1-60)"),
        ("0 20 * * 1/2", "steps from a single value"),
        ("0 20 ? * MON", "is EventBridge cron"),
        ("0 20 L * *", "is EventBridge cron"),
        ("0 20 * * 2#1", "is EventBridge cron"),
        ("0 20 * * 1-5 2026", "is not a cron expression: it has 6 field(s)"),
        ("0 20 * * FUN", "day-of-week 'FUN' is out of range (allowed: 0-6 or SUN-SAT"),
    ],
)
def test_each_cron_field_out_of_its_range_is_refused(recurrence: str, reason: str) -> None:
    problem = only_dev_problem(with_evenings(recurrence=recurrence))
    assert problem.startswith("presto-on-aws:workerSchedules: item 0 (evenings): recurrence")
    assert reason in problem


@pytest.mark.parametrize(
    "recurrence",
    [
        "0 20 * * 1-5",
        "*/15 0-23/2 1,15 * *",
        "0 8 * JAN-MAR MON-FRI",
        "30 6 1 jun sun",
        "0 0 31 12 0,6",
        "* * * * *",
    ],
)
def test_unix_cron_auto_scaling_takes_is_accepted(recurrence: str) -> None:
    assert recurrence_problem(recurrence) is None


# --- 2. a time zone that does not exist -----------------------------------------------------------


def test_a_misspelt_time_zone_is_refused_suggesting_the_nearest() -> None:
    problem = only_dev_problem(with_evenings(timeZone="Europe/Dubln"))
    assert problem == (
        "presto-on-aws:workerSchedules: item 0 (evenings): timeZone 'Europe/Dubln' is not an IANA "
        "time zone (allowed: a name such as Europe/Dublin, America/New_York, Etc/GMT+9 or UTC); "
        "did you mean Europe/Dublin?"
    )


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT+9", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
def test_iana_and_etc_zones_are_accepted(zone: str) -> None:
    assert time_zone_problem(zone) is None


def test_without_a_time_zone_database_the_plan_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.settings import schedule

    monkeypatch.setattr(schedule, "known_time_zones", lambda: frozenset())
    reason = time_zone_problem("Europe/Dublin")
    assert reason is not None and "no IANA time zone database" in reason and "tzdata" in reason
