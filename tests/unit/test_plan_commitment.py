"""`make plan` prints what a `pulumi up` commits the account to each month, in billed units read
from the declared graph (tools/plan/commitment.py); no dollar figure, since no price list is
reachable offline."""

from __future__ import annotations

from tools.plan.commitment import HOURS_PER_MONTH, commitment_lines
from tools.plan.mocks import run_program


def lines_of(stack: str, overrides: dict[str, object] | None = None) -> list[str]:
    return commitment_lines(run_program(stack, overrides or {}))


def test_instance_hours_follow_each_groups_min_desired_and_max() -> None:
    (workers,) = [line for line in lines_of("prod") if line.startswith("workers:")]
    assert workers.startswith(
        "workers: 2,920 / 4,380 / 29,200 instance-hours at min / desired / max 4 / 6 / 40"
    )
    assert "r6i.4xlarge, r5.4xlarge, r6a.4xlarge; 50 % spot above the on-demand base" in workers


def test_the_largest_fleet_is_priced_in_hours_at_its_maximum() -> None:
    (workers,) = [line for line in lines_of("prod", {"workerMaxSize": 1000}) if line.startswith("workers:")]
    assert f"/ {1000 * HOURS_PER_MONTH:,} instance-hours" in workers


def test_coordinators_are_always_on() -> None:
    (coordinators,) = [line for line in lines_of("prod") if line.startswith("coordinators:")]
    assert coordinators.startswith("coordinators: 1,460 / 1,460 / 1,460 instance-hours")
    assert "(r6i.2xlarge)" in coordinators


def test_the_fast_queue_metric_makes_high_resolution_alarms_and_more_metric_calls() -> None:
    slow, fast = lines_of("prod"), lines_of("prod", {"scalingFastQueueMetric": True})
    assert "alarms: 8 standard, 0 high resolution" in slow
    assert any(line.startswith("alarms: ") and not line.endswith(" 0 high resolution") for line in fast)
    calls = [next(line for line in lines if line.startswith("custom metrics:")) for lines in (slow, fast)]
    assert calls[0] != calls[1]


def test_each_scheduled_function_runs_every_minute_of_the_month() -> None:
    runs = [line for line in lines_of("prod") if line.startswith("function trino-prod")]
    each = f"{HOURS_PER_MONTH * 60:,} runs at 256 MB (run lengths: not known offline)"
    assert runs == [
        f"function trino-prod-coordinators-failover: {each}",
        f"function trino-prod-workers-health: {each}",
    ]


def test_the_section_says_it_prints_no_prices() -> None:
    assert "no prices offline" in lines_of("dev")[0]
