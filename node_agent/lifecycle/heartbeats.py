"""When a draining worker sends its lifecycle heartbeats: spread over the fleet, backed off on
throttling, always inside the hook's heartbeat timeout.

A scale-in of hundreds of workers starts all their drains in the same second. Each first
heartbeat at once, and each failed one retried every second, is hundreds of
RecordLifecycleActionHeartbeat (and DescribeAutoScalingInstances) calls against the account's one
Auto Scaling request bucket; a worker still throttled when its heartbeat timeout runs out is
terminated with its queries running. So the first heartbeat waits a delay read from the instance
id (spread evenly over the first half interval, the same after an agent restart), and a failed
one is retried after 2, 4, 8 ... up to BACKOFF_MAX seconds with jitter, but never later than
RESERVE_FRACTION of an interval before the timeout would run out.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

FIRST_SPREAD = 0.5  # of an interval: the first heartbeats of a fleet spread over this much
BACKOFF_MAX = 30.0
RESERVE_FRACTION = 0.2  # of an interval kept before the timeout for a last try
TIMEOUT_INTERVALS = 3  # the agent heartbeats three times per heartbeat timeout (command.build_config)


def first_delay(instance_id: str, interval: float) -> float:
    """Seconds from the drain's start to the first heartbeat: a fixed point of the instance id."""
    fraction = int.from_bytes(hashlib.sha256(instance_id.encode()).digest()[:4], "big") / 2**32
    return round(fraction * FIRST_SPREAD * interval, 3)


@dataclass
class HeartbeatSchedule:
    interval: float
    first: float = 0.0  # first_delay() on a node; 0 in a test that wants the first one at once
    seed: str = ""
    failures: int = 0
    retry_at: float | None = None
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def due(self, now: float, started_at: float, last_at: float | None) -> bool:
        if self.retry_at is not None:
            return now >= self.retry_at
        if last_at is None:
            return now - started_at >= self.first
        return now - last_at >= self.interval

    def failed(self, now: float, started_at: float, last_at: float | None) -> float:
        """Note a failed heartbeat; the time of the next try."""
        self.failures += 1
        delay = min(BACKOFF_MAX, 2.0**self.failures) * self._random.uniform(0.5, 1.0)
        deadline = (last_at if last_at is not None else started_at) + TIMEOUT_INTERVALS * self.interval
        self.retry_at = max(now + 1.0, min(now + delay, deadline - RESERVE_FRACTION * self.interval))
        return self.retry_at

    def succeeded(self) -> None:
        self.failures, self.retry_at = 0, None
