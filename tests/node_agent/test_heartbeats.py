"""Lifecycle heartbeats of a fleet: spread, backed off on throttling, inside the hook timeout."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from node_agent.lifecycle.heartbeats import BACKOFF_MAX, TIMEOUT_INTERVALS, HeartbeatSchedule, first_delay

INTERVAL = 100.0  # the hook's 300 s heartbeat timeout, as stacks deploy it
TIMEOUT = TIMEOUT_INTERVALS * INTERVAL
FLEET = [f"i-{n:017x}" for n in range(1000)]


def test_the_first_heartbeats_of_1000_workers_spread_over_the_first_half_interval() -> None:
    delays = [first_delay(iid, INTERVAL) for iid in FLEET]
    assert min(delays) >= 0 and max(delays) < INTERVAL / 2
    busiest = max(Counter(int(d) for d in delays).values())
    assert busiest <= 50, busiest  # about 20 a second on average; none near 1,000 at once


def test_a_restarted_agent_keeps_its_first_heartbeat_time() -> None:
    assert first_delay(FLEET[7], INTERVAL) == first_delay(FLEET[7], INTERVAL)


def test_a_throttled_heartbeat_backs_off_and_the_backoff_has_a_ceiling() -> None:
    schedule = HeartbeatSchedule(INTERVAL, seed="i-1")
    now, gaps = 0.0, []
    for _ in range(8):
        retry_at = schedule.failed(now, started_at=0.0, last_at=None)
        gaps.append(retry_at - now)
        now = retry_at
    assert gaps[0] <= 2 and gaps[1] <= 4 and gaps[2] <= 8
    assert max(gaps) <= BACKOFF_MAX


def test_a_retry_never_lands_after_the_hook_timeout() -> None:
    schedule = HeartbeatSchedule(INTERVAL, seed="i-1")
    schedule.failures = 10  # deep in the backoff
    retry_at = schedule.failed(now=270.0, started_at=0.0, last_at=0.0)
    assert retry_at < TIMEOUT


def test_a_success_ends_the_backoff() -> None:
    schedule = HeartbeatSchedule(INTERVAL, seed="i-1")
    schedule.failed(10.0, started_at=0.0, last_at=None)
    schedule.succeeded()
    assert not schedule.due(50.0, started_at=0.0, last_at=10.0)
    assert schedule.due(110.0, started_at=0.0, last_at=10.0)


class ThrottlingAutoScaling:
    """A fake of Auto Scaling's account request bucket (token bucket: BURST, REFILL a second).

    AWS does not publish the bucket's size; these leave 1,000 workers' heartbeats (10 a second at
    one per 100 s) little headroom and a burst far below 1,000, so throttling happens, which moto
    cannot produce. (Below 10 a second no schedule of one heartbeat per interval can hold.)
    """

    BURST, REFILL = 40.0, 12.0

    def __init__(self) -> None:
        self.tokens, self.attempts, self.per_second = self.BURST, 0, Counter[int]()

    def tick(self) -> None:
        self.tokens = min(self.BURST, self.tokens + self.REFILL)

    def heartbeat(self, second: int) -> bool:
        self.attempts += 1
        self.per_second[second] += 1
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@pytest.mark.parametrize("seconds", [900])
def test_1000_draining_workers_under_throttling_all_heartbeat_within_the_timeout(seconds: int) -> None:
    api = ThrottlingAutoScaling()
    schedules = {iid: HeartbeatSchedule(INTERVAL, first_delay(iid, INTERVAL), seed=iid) for iid in FLEET}
    last: dict[str, float | None] = dict.fromkeys(FLEET)
    longest_wait = dict.fromkeys(FLEET, 0.0)
    successes, order = 0, random.Random(0)
    for second in range(seconds):
        api.tick()
        now = float(second)
        workers = list(schedules.items())
        order.shuffle(workers)  # independent agents: no worker is always first at the bucket
        for iid, schedule in workers:
            previous = last[iid]
            since = previous if previous is not None else 0.0
            longest_wait[iid] = max(longest_wait[iid], now - since)
            if schedule.due(now, 0.0, last[iid]):
                if api.heartbeat(second):
                    schedule.succeeded()
                    last[iid] = now
                    successes += 1
                else:
                    schedule.failed(now, 0.0, last[iid])
    assert max(longest_wait.values()) < TIMEOUT, max(longest_wait.values())
    assert api.attempts <= 2 * successes, (api.attempts, successes)
    assert max(api.per_second.values()) <= 100, max(api.per_second.values())
