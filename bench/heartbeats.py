"""Lifecycle heartbeats of 1,000 draining workers against a throttling Auto Scaling bucket.

Prints, for the old schedule (first heartbeat at once, a failed one retried every second) and the
one the agent runs (node_agent/lifecycle/heartbeats.py), the calls attempted, the heartbeats that
landed, the busiest second and the longest a worker went without a heartbeat (the hook's timeout
is 300 s). The bucket is tests/node_agent/test_heartbeats.py's fake (AWS publishes no size).
"""

from __future__ import annotations

import random

from node_agent.lifecycle.heartbeats import HeartbeatSchedule, first_delay
from tests.node_agent.test_heartbeats import FLEET, INTERVAL, ThrottlingAutoScaling

SECONDS = 900


def run(spread_and_backoff: bool) -> str:
    api, order = ThrottlingAutoScaling(), random.Random(0)
    schedules = {
        iid: HeartbeatSchedule(INTERVAL, first_delay(iid, INTERVAL) if spread_and_backoff else 0.0, seed=iid)
        for iid in FLEET
    }
    last: dict[str, float | None] = dict.fromkeys(FLEET)
    longest, landed = 0.0, 0
    for second in range(SECONDS):
        api.tick()
        workers = list(schedules.items())
        order.shuffle(workers)
        for iid, schedule in workers:
            previous = last[iid]
            longest = max(longest, second - (previous or 0.0))
            if spread_and_backoff:
                due = schedule.due(second, 0.0, previous)
            else:
                due = previous is None or second - previous >= INTERVAL
            if not due:
                continue
            if api.heartbeat(second):
                schedule.succeeded()
                last[iid], landed = float(second), landed + 1
            elif spread_and_backoff:
                schedule.failed(second, 0.0, previous)
    name = "spread + backoff" if spread_and_backoff else "at once, retry every second"
    peak = max(api.per_second.values())
    return (
        f"{name:28s} attempts {api.attempts:6d}  landed {landed:5d}  busiest second {peak:4d}  "
        f"longest gap {longest:.0f} s"
    )


if __name__ == "__main__":
    bucket = f"{ThrottlingAutoScaling.BURST:.0f} + {ThrottlingAutoScaling.REFILL:.0f}/s"
    print(f"{len(FLEET)} workers draining for {SECONDS} s, bucket {bucket}")
    print(run(False))
    print(run(True))
