"""What a `pulumi up` of the stack commits its account to each month, in the units AWS bills.

Read from the declared graph: instance-hours per group at its minimum, desired and maximum size
and instance types; the alarms (standard, or high resolution below a 60 s period); the custom
metrics (contract.Metric, one Cluster dimension each); the coordinator agent's PutMetricData
calls; and the scheduled function runs with their memory. No dollar figure: no dated AWS price
list is reachable from the machine `make plan` is built for (AWS's Price List API and bulk files
are on AWS itself), and a figure from an unverified table would be a guess presented as a fact.
Multiply the units by the region's prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node_agent.contract import FAST_METRICS_INTERVAL_SECONDS, METRICS_INTERVAL_SECONDS, Metric
from tools.plan.cluster import ALARM, GROUP, group_instances, node_settings
from tools.plan.mocks import Plan

HOURS_PER_MONTH = 730  # AWS's own convention for monthly estimates (24 x 365 / 12)
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
HIGH_RESOLUTION_BELOW_SECONDS = 60  # CloudWatch bills an alarm on a shorter period as high resolution
RULE = "aws:cloudwatch/eventRule:EventRule"
FUNCTION = "aws:lambda/function:Function"
SCHEDULE_RUNS_PER_MONTH = {"rate(1 minute)": HOURS_PER_MONTH * 60}


def commitment_lines(plan: Plan) -> list[str]:
    lines = [
        f"per month of {HOURS_PER_MONTH} h, in billed units (no prices offline: multiply by the region's)"
    ]
    for group in sorted(plan.of_type(GROUP), key=lambda g: str(g.inputs.get("name"))):
        lines.append(_instance_hours(plan, group.inputs))
    standard, high = _alarms(plan)
    lines.append(f"alarms: {standard} standard, {high} high resolution")
    interval = (
        FAST_METRICS_INTERVAL_SECONDS if node_settings(plan).fast_queue_metric else METRICS_INTERVAL_SECONDS
    )
    lines.append(
        f"custom metrics: {len(Metric)} (one Cluster dimension each); PutMetricData from the coordinator "
        f"holding the address: {SECONDS_PER_MONTH / interval:,.0f} calls (one every {interval:g} s)"
    )
    lines += _function_runs(plan)
    return lines


def _instance_hours(plan: Plan, inputs: Mapping[str, Any]) -> str:
    role = str(inputs.get("name", "")).rsplit("-", 1)[-1]
    sizes = [int(inputs.get(k) or 0) for k in ("minSize", "desiredCapacity", "maxSize")]
    hours = " / ".join(f"{n * HOURS_PER_MONTH:,}" for n in sizes)
    types, spot = group_instances(plan, inputs)
    kinds = ", ".join(types) or "?"
    if spot is not None:
        kinds = f"{kinds}; {spot} % spot above the on-demand base"
    return (
        f"{role}: {hours} instance-hours at min / desired / max {' / '.join(map(str, sizes))} ({kinds}); "
        "schedules and scaling move it between min and max"
    )


def _alarms(plan: Plan) -> tuple[int, int]:
    def period(alarm: Mapping[str, Any]) -> int:
        queries = alarm.get("metricQueries") or []
        periods = [int(q["metric"]["period"]) for q in queries if q.get("metric")] or [
            int(alarm.get("period") or 60)
        ]
        return min(periods)

    periods = [period(a.inputs) for a in plan.of_type(ALARM)]
    high = sum(1 for p in periods if p < HIGH_RESOLUTION_BELOW_SECONDS)
    return len(periods) - high, high


def _function_runs(plan: Plan) -> list[str]:
    memory = {str(f.name): int(f.inputs.get("memorySize") or 128) for f in plan.of_type(FUNCTION)}
    lines = []
    for rule in sorted(plan.of_type(RULE), key=lambda r: r.name):
        expression = rule.inputs.get("scheduleExpression")
        if not expression:
            continue
        function = rule.name.removesuffix("-schedule")
        runs = SCHEDULE_RUNS_PER_MONTH.get(str(expression))
        shown = f"{runs:,} runs" if runs else f"runs on {expression}"
        lines.append(
            f"function {function}: {shown} at {memory.get(function, 128)} MB (run lengths: not known offline)"
        )
    lines.append("function runs on events (scale-in, group changes, switchovers): one per event")
    return lines
