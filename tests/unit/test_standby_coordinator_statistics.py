"""A standby coordinator's zeros must not change what a widget shows or what an alarm decides.

Both coordinators run the metrics agent, and during a failover (or with an older agent) both may
publish the cluster metrics under the same single dimension, so CloudWatch pools their samples.
Each statistic a widget or alarm uses on a coordinator-published metric is applied here, the way
CloudWatch applies it, to the active coordinator's sample alone and to it plus the standby's 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from node_agent.metrics.cloudwatch import metric_data
from node_agent.metrics.sources import ClusterNumbers
from tests.unit.cluster_metric_uses import MetricUse, metric_uses
from tools.plan.mocks import Plan

PlanFor = Callable[[str], Plan]

STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "Average": lambda xs: sum(xs) / len(xs),
    "SampleCount": lambda xs: float(len(xs)),
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
ACTIVE_VALUES = (0.0, 1.0, 3.0, 40.0, 85.0, 250.0)


def coordinator_metrics() -> set[str]:
    """What a coordinator's agent publishes: every datum of a full set of numbers."""
    full = ClusterNumbers(*(1.0 for _ in range(len(ClusterNumbers.__dataclass_fields__))))
    return {d["MetricName"] for d in metric_data("c", full, full, datetime.now(UTC))}


def diluted(use: MetricUse) -> list[float]:
    """The active values for which adding the standby's 0 changes the widget or the alarm."""
    stat = STATISTICS[use.statistic]
    changed = []
    for value in ACTIVE_VALUES:
        alone, pooled = stat([value]), stat([value, 0.0])
        if use.comparison is None or use.threshold is None:
            differs = alone != pooled
        else:
            decide = COMPARISONS[use.comparison]
            differs = decide(alone, use.threshold) != decide(pooled, use.threshold)
        if differs:
            changed.append(value)
    return changed


@pytest.mark.parametrize("config", ["prod", "dev"])
def test_standby_coordinator_zeros_change_no_widget_or_alarm(plan_for: PlanFor, config: str) -> None:
    published = coordinator_metrics()
    uses = [u for u in metric_uses(plan_for(config)) if u.metric in published]
    assert uses, "no widget or alarm uses a coordinator metric"
    diluting = {f"{u.where}: {u.statistic} of {u.metric}": diluted(u) for u in uses if diluted(u)}
    assert diluting == {}
