"""Which workers a scale-in takes: the ones with the least running work, as Trino reports it.

Auto Scaling calls the worker group's custom termination policy (this function) with the capacity
it must remove, per Availability Zone and market option, and the instances it suggests, in its own
default order (oldest launch template, then zone balance). Left to that order, a worker in the
middle of a 40-minute query can be chosen while an idle one stays, and the drain then holds the
capacity for the whole query. Here each zone's share goes to its idlest candidates instead: fewest
unfinished Trino tasks, then fewest queued and running splits, Auto Scaling's order breaking ties.
A candidate the coordinator does not list has no work there (still booting, or not joined), so it
goes first. When Trino cannot be asked, the answer is Auto Scaling's own list in its own order,
which leaves the choice to its default policy, as if this function did not exist.

Pure: the event in, the answer out; the handler asks Trino.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Unfinished: a task in one of these still holds part of a query on its worker.
UNFINISHED_TASK_STATES = ("PLANNED", "RUNNING", "FLUSHING")
# Users' work only: the management identity's queries (this one, whose tasks run on every node
# while it reads, and the agents') are left out, so they tilt no comparison.
WORK_SQL = (
    "SELECT node_id, count(*), sum(queued_splits + running_splits) FROM system.runtime.tasks "
    f"WHERE state IN ({', '.join(repr(s) for s in UNFINISHED_TASK_STATES)}) "
    'AND query_id NOT IN (SELECT query_id FROM system.runtime.queries WHERE "user" = current_user) '
    "GROUP BY node_id"
)

Work = tuple[int, int]  # (unfinished tasks, queued + running splits) on one worker


class EventError(ValueError):
    """The payload is not the termination-policy request Auto Scaling documents; says what is wrong."""


@dataclass(frozen=True)
class Candidate:
    instance_id: str
    zone: str
    market: str  # on-demand | spot


@dataclass(frozen=True)
class Share:
    """Capacity Auto Scaling must remove from one zone and market option."""

    zone: str
    market: str
    capacity: int


@dataclass(frozen=True)
class ScaleInRequest:
    group: str
    cause: str
    shares: tuple[Share, ...]
    candidates: tuple[Candidate, ...]  # in Auto Scaling's suggested order

    @classmethod
    def parse(cls, event: object) -> ScaleInRequest:
        if not isinstance(event, dict):
            raise EventError(f"the event is a {type(event).__name__}, not a JSON object")
        return cls(
            group=_text(event, "AutoScalingGroupName", "the event"),
            cause=str(event.get("Cause", "")),
            shares=tuple(_share(item, n) for n, item in enumerate(_list(event, "CapacityToTerminate"))),
            candidates=tuple(_candidate(item, n) for n, item in enumerate(_list(event, "Instances"))),
        )


def suggested_ids(event: object) -> list[str]:
    """The instance ids of Auto Scaling's own list, in its order, read as leniently as possible:
    the answer when the event cannot be fully read or Trino cannot be asked."""
    instances = event.get("Instances") if isinstance(event, dict) else None
    if not isinstance(instances, list):
        return []
    return [
        i["InstanceId"] for i in instances if isinstance(i, dict) and isinstance(i.get("InstanceId"), str)
    ]


def idlest(request: ScaleInRequest, work: Mapping[str, Work]) -> list[str]:
    """For each share, its `capacity` idlest candidates of that zone and market option."""
    order = {c.instance_id: n for n, c in enumerate(request.candidates)}
    chosen: list[str] = []
    for share in request.shares:
        taken = set(chosen)
        pool = [
            c
            for c in request.candidates
            if (c.zone, c.market) == (share.zone, share.market) and c.instance_id not in taken
        ]
        pool.sort(key=lambda c: (*work.get(c.instance_id, (0, 0)), order[c.instance_id]))
        chosen.extend(c.instance_id for c in pool[: share.capacity])
    return chosen


def work_by_node(rows: list[list[Any]]) -> dict[str, Work]:
    """WORK_SQL's rows as node id -> (tasks, splits); raises ValueError on a row of another shape."""
    work: dict[str, Work] = {}
    for row in rows:
        node, tasks, splits = row
        work[str(node)] = (int(tasks), int(splits or 0))
    return work


def _list(event: dict[str, Any], key: str) -> list[Any]:
    value = event.get(key)
    if not isinstance(value, list):
        raise EventError(f"{key} is {'missing' if value is None else type(value).__name__}, not a list")
    return value


def _text(item: object, key: str, where: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str) or not value:
        raise EventError(f"{where} has no {key} (a non-empty string)")
    return value


def _share(item: object, n: int) -> Share:
    where = f"CapacityToTerminate[{n}]"
    capacity = item.get("Capacity") if isinstance(item, dict) else None
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
        raise EventError(f"{where} has no Capacity (a whole number, 0 or more)")
    return Share(_text(item, "AvailabilityZone", where), _text(item, "InstanceMarketOption", where), capacity)


def _candidate(item: object, n: int) -> Candidate:
    where = f"Instances[{n}]"
    return Candidate(
        _text(item, "InstanceId", where),
        _text(item, "AvailabilityZone", where),
        _text(item, "InstanceMarketOption", where),
    )
