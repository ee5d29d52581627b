"""The switchover's worker hand-over: the target coordinator learns the holder's workers first.

A coordinator schedules only on workers that announced themselves to it, and workers announce to
the address, so a target would serve its first queries with no worker until each one's next
announcement reached it. Before the move the holder's workers are announced to the target (the
discovery copy in node_agent.trino.discovery), and the switchover waits until the target counts
them active. The copies expire like the workers' own, so they are announced again while the quiet
wait lasts. A failure is logged and does not stop the switchover: the address still moves, and the
workers announce themselves to the new holder a few seconds later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.failover.watch import HANDOVER_ERRORS
from functions.shared.lambda_support import Clock

HANDOVER_WAIT_SECONDS = 15.0  # the target polls each worker's state once it knows it: ~1-5 s
HANDOVER_REFRESH_SECONDS = 10.0  # copied announcements expire after 30 s in Trino's discovery store


class WorkerHandOver:
    """Announce the holder's workers to the target, and again while the switchover waits."""

    def __init__(
        self,
        hand_over_workers: Callable[[str, str], int] | None,
        active_workers: Callable[[str], int] | None,
        *,
        clock: Clock,
        log: Callable[..., Any],
        time_for_another_look: Callable[[float], bool],
    ) -> None:
        # (holder address, target address) -> workers announced to the target; None: not configured
        self.hand_over_workers = hand_over_workers
        self.active_workers = active_workers  # address -> workers that coordinator schedules on
        self.clock = clock
        self.log = log  # the switchover's own log (its function, cluster and trigger)
        self.time_for_another_look = time_for_another_look  # the invocation's remaining time

    def begin(self, iid: str, address: str, target: str, target_address: str) -> float | None:
        """Announce the holder's workers to the target and wait until it counts them active;
        when that was (on the clock's monotonic scale), or None when it failed or is not configured."""
        if self.hand_over_workers is None:
            return None
        started = self.clock.monotonic()
        try:
            workers = self.hand_over_workers(address, target_address)
            counted = self._wait_counted(target_address, workers)
        except HANDOVER_ERRORS as exc:
            self.log(
                "switchover_workers_not_handed_over",
                level="warning",
                instance=iid,
                target=target,
                reason=f"{exc}; the workers announce to the new holder after the move",
            )
            return None
        self.log(
            "switchover_workers_handed_over",
            instance=iid,
            target=target,
            workers=workers,
            counted=counted,
            seconds=round(self.clock.monotonic() - started, 3),
        )
        return self.clock.monotonic()

    def refresh(self, address: str, target_address: str) -> float | None:
        assert self.hand_over_workers is not None  # begin returned a time, so it is configured
        try:
            self.hand_over_workers(address, target_address)
        except HANDOVER_ERRORS:
            return None  # the target keeps the last copies until they expire; the move goes on
        return self.clock.monotonic()

    def _wait_counted(self, target_address: str, workers: int) -> int:
        """Workers the target counts active, once it counts all of them or HANDOVER_WAIT_SECONDS passed."""
        if self.active_workers is None:
            return workers
        deadline = self.clock.monotonic() + HANDOVER_WAIT_SECONDS
        while True:
            counted = self.active_workers(target_address)
            if counted >= workers or self.clock.monotonic() >= deadline:
                return counted
            if not self.time_for_another_look(0.5):
                return counted
            self.clock.sleep(0.5)
