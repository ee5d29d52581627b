"""Every use of a cluster metric in the declared graph: dashboard lines, alarms, scaling alarms.

Read from the recorded resources (what `pulumi up` would create), so a widget or alarm added
anywhere in components/ is covered without being listed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from node_agent.contract import CLOUDWATCH_NAMESPACE
from tools.plan.mocks import Plan

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


@dataclass(frozen=True)
class MetricUse:
    where: str  # the alarm's or widget's name
    metric: str
    statistic: str
    comparison: str | None = None  # alarms only
    threshold: float | None = None


def metric_uses(plan: Plan) -> list[MetricUse]:
    uses: list[MetricUse] = []
    for alarm in plan.of_type(ALARM):
        if alarm.inputs.get("namespace") != CLOUDWATCH_NAMESPACE:
            continue
        uses.append(
            MetricUse(
                alarm.name,
                alarm.inputs["metricName"],
                alarm.inputs["statistic"],
                alarm.inputs["comparisonOperator"],
                float(alarm.inputs["threshold"]),
            )
        )
    for dashboard in plan.of_type(DASHBOARD):
        for widget in json.loads(dashboard.inputs["dashboardBody"])["widgets"]:
            for line in widget["properties"]["metrics"]:
                if line[0] != CLOUDWATCH_NAMESPACE:
                    continue
                options = line[-1] if isinstance(line[-1], dict) else {}
                title = widget["properties"]["title"]
                uses.append(MetricUse(f"widget {title!r}", line[1], options.get("stat", "Average")))
    return uses
