"""Which workers the group should replace, as a plain function over one look at the fleet.

A worker counts as failing a check when it is InService in its group, past the grace period since
launch, and the coordinator does not list it as an active node (node id = instance id): missing,
shutting down on its own, or reported inactive after failed heartbeats. FAILED_CHECKS failures in
a row (the count is carried between runs by the caller) make it a candidate; a passing check
resets the count.

Replacement is capped: at most MAX_UNHEALTHY_FRACTION of the group may be unhealthy at once,
counting the ones already being replaced, and at least one at a time (so a two-worker fleet can
still heal); a fraction of 0 turns marking off. The candidates that failed longest go first; the
rest keep their counts and wait for room.

A systemic fault marks none: when more workers fail this check than the cap allows to be
replaced, the cause is shared (the coordinator cannot be reached by workers, a bad shared secret
or catalog, the network), and replacing the fleet in waves of the cap would only churn it: every
replacement fails the same way. The plan says so (`systemic`) for a metric and an alarm; the
counts go on, so the workers still failing once the fault is fixed are replaced at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACTIVE = "active"  # system.runtime.nodes.state of a node that takes work


@dataclass(frozen=True)
class Worker:
    instance_id: str
    lifecycle_state: str  # the group's: InService, Pending, Terminating, Terminating:Wait, ...
    health_status: str  # the group's: Healthy | Unhealthy
    ec2_state: str  # running, stopped, ..., or "missing" when EC2 no longer knows it
    launched_at: datetime | None
    misses: int = 0  # failed checks in a row so far (from the instance tag)


@dataclass(frozen=True)
class CoordinatorView:
    """The coordinator's node list: node id -> state (lowercase, as system.runtime.nodes shows it)."""

    states: Mapping[str, str]

    def why_not_active(self, node_id: str) -> str | None:
        state = self.states.get(node_id)
        if state is None:
            return "not known to the coordinator"
        if state != ACTIVE:
            return f"coordinator reports it {state}"
        return None


@dataclass(frozen=True)
class Check:
    instance_id: str
    misses_before: int
    misses_after: int
    reason: str  # "active", or why it failed the check


@dataclass(frozen=True)
class Plan:
    checks: list[Check] = field(default_factory=list)  # workers checked this run, with new counts
    mark: list[str] = field(default_factory=list)  # to be marked Unhealthy now
    held_back: list[str] = field(default_factory=list)  # due, but the cap leaves no room
    skipped: dict[str, str] = field(default_factory=dict)  # not checked, and why
    limit: int = 0  # how many may be unhealthy at once
    already_unhealthy: int = 0
    systemic: bool = False  # more fail at once than may be replaced: none is marked


def unhealthy_limit(fleet_size: int, max_fraction: float) -> int:
    if max_fraction <= 0 or fleet_size == 0:
        return 0
    return max(1, math.floor(fleet_size * max_fraction + 1e-9))


def plan(
    workers: Iterable[Worker],
    view: CoordinatorView,
    *,
    failed_checks: int,
    grace: timedelta,
    now: datetime,
    max_fraction: float,
) -> Plan:
    workers = list(workers)
    already = [
        w for w in workers if w.health_status != "Healthy" or w.lifecycle_state.startswith("Terminating")
    ]
    limit = unhealthy_limit(len(workers), max_fraction)
    checks: list[Check] = []
    skipped: dict[str, str] = {}
    for w in sorted(workers, key=lambda w: w.instance_id):
        why_skip = _why_not_checked(w, grace, now)
        if why_skip:
            skipped[w.instance_id] = why_skip
            continue
        failure = view.why_not_active(w.instance_id)
        after = 0 if failure is None else w.misses + 1
        checks.append(Check(w.instance_id, w.misses, after, failure or ACTIVE))
    due = sorted(
        (c for c in checks if c.misses_after >= failed_checks), key=lambda c: (-c.misses_after, c.instance_id)
    )
    failing = sum(1 for c in checks if c.misses_after)
    systemic = 0 < limit < failing
    room = 0 if systemic else max(0, limit - len(already))
    return Plan(
        checks=checks,
        mark=[c.instance_id for c in due[:room]],
        held_back=[c.instance_id for c in due[room:]],
        skipped=skipped,
        limit=limit,
        already_unhealthy=len(already),
        systemic=systemic,
    )


def _why_not_checked(worker: Worker, grace: timedelta, now: datetime) -> str | None:
    if worker.lifecycle_state != "InService":
        return f"lifecycle state {worker.lifecycle_state}"
    if worker.health_status != "Healthy":
        return f"already {worker.health_status}"
    if worker.ec2_state != "running":
        return f"EC2 state {worker.ec2_state} (the group's own EC2 health check handles it)"
    if worker.launched_at is None:
        return "launch time unknown"
    if now - worker.launched_at < grace:
        return f"launched {int((now - worker.launched_at).total_seconds())} s ago, within the grace period"
    return None
