"""The rollout part of the stack config: how a new launch template reaches the running nodes, and
the worker group's scheduled sizes.

Checked here with the same care as every other key: a value AWS would refuse at `pulumi up` time
(a checkpoint list not ending at 100, a schedule with min above max) is refused before anything is
declared, naming the key and what is allowed.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from components.settings.model import RolloutSettings, WorkerSchedule, WorkerSettings
from components.settings.reader import ConfigReader
from components.settings.schedule import recurrence_problem, time_zone_problem

SCHEDULE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SCHEDULE_KEYS = ("name", "recurrence", "timeZone", "minSize", "maxSize", "desiredCapacity")
MAX_SIZE = 1000


def rollout_settings(reader: ConfigReader, workers: WorkerSettings) -> RolloutSettings:
    checkpoints = _checkpoints(reader)
    if reader.has("rolloutCheckpointDelaySeconds") and not checkpoints:
        reader.problem(
            "rolloutCheckpointDelaySeconds",
            "is set but rolloutCheckpointPercentages is not (a delay needs checkpoints to pause at)",
        )
    return RolloutSettings(
        min_healthy_percent=reader.integer("rolloutMinHealthyPercent", 90, 0, 100),
        instance_warmup_seconds=reader.integer("rolloutInstanceWarmupSeconds", 300, 0, 3600),
        checkpoint_percentages=checkpoints,
        checkpoint_delay_seconds=reader.integer("rolloutCheckpointDelaySeconds", 600, 0, 172800),
        auto_rollback=reader.boolean("rolloutAutoRollback", True),
        quiet_wait_seconds=reader.integer("rolloutQuietWaitSeconds", 300, 0, 3600),
        standby_wait_minutes=reader.integer("rolloutStandbyWaitMinutes", 60, 1, 420),
        worker_schedules=_schedules(reader, workers),
    )


def _checkpoints(reader: ConfigReader) -> tuple[int, ...]:
    key = "rolloutCheckpointPercentages"
    items = reader.structured(key, list)
    if not items:
        return ()
    if not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= 100 for i in items):
        reader.problem(key, f"{items!r}: every item must be an integer 1-100")
        return ()
    if any(b <= a for a, b in itertools.pairwise(items)):
        reader.problem(key, f"{items!r} is not strictly ascending")
        return ()
    if items[-1] != 100:
        reader.problem(key, f"{items!r}: the last checkpoint must be 100 (Auto Scaling finishes there)")
        return ()
    return tuple(items)


def _schedules(reader: ConfigReader, workers: WorkerSettings) -> tuple[WorkerSchedule, ...]:
    key = "workerSchedules"
    items = reader.structured(key, list)
    if not items:
        return ()
    schedules = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"item {index}"
        if not isinstance(item, dict):
            reader.problem(key, f"{where}: {item!r} is not a map (allowed keys: {', '.join(SCHEDULE_KEYS)})")
            continue
        schedule = _schedule(reader, key, where, item, workers)
        if schedule is None:
            continue
        if schedule.name in seen:
            reader.problem(key, f"{where}: name {schedule.name!r} is used twice (names must be unique)")
            continue
        seen.add(schedule.name)
        schedules.append(schedule)
    return tuple(schedules)


def _schedule(
    reader: ConfigReader, key: str, where: str, item: dict[str, Any], workers: WorkerSettings
) -> WorkerSchedule | None:
    before = len(reader.problems)
    unknown = sorted(set(item) - set(SCHEDULE_KEYS))
    if unknown:
        reader.problem(key, f"{where}: unknown field(s) {unknown} (allowed: {', '.join(SCHEDULE_KEYS)})")
    name = item.get("name")
    if not isinstance(name, str) or not SCHEDULE_NAME.match(name):
        reader.problem(key, f"{where}: name {name!r} is not valid (allowed: a-z 0-9 -, at most 63)")
    else:
        where = f"{where} ({name})"
    recurrence = item.get("recurrence")
    reason = recurrence_problem(recurrence)
    if reason:
        reader.problem(key, f"{where}: {reason}")
    zone = item.get("timeZone", "UTC")
    reason = time_zone_problem(zone)
    if reason:
        reader.problem(key, f"{where}: {reason}")
    sizes: dict[str, int | None] = {}
    for field in ("minSize", "maxSize", "desiredCapacity"):
        value = item.get(field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SIZE
        ):
            reader.problem(key, f"{where}: {field} {value!r} is not an integer 0-{MAX_SIZE}")
            return None
        sizes[field] = value
    low, high, desired = sizes["minSize"], sizes["maxSize"], sizes["desiredCapacity"]
    if "minSize" not in item and "maxSize" not in item and "desiredCapacity" not in item:
        reader.problem(key, f"{where}: sets no size (give at least one of minSize, maxSize, desiredCapacity)")
    if low is not None and high is not None and low > high:
        reader.problem(key, f"{where}: minSize {low} is greater than maxSize {high}")
    # What the group's bounds will be when the action runs: its own, else the configured ones.
    floor = low if low is not None else workers.min_size
    ceiling = high if high is not None else workers.max_size
    if desired is not None and floor <= ceiling and not floor <= desired <= ceiling:
        reader.problem(key, f"{where}: desiredCapacity {desired} is outside {floor}..{ceiling}")
    if len(reader.problems) > before:
        return None
    return WorkerSchedule(
        name=str(name),
        recurrence=" ".join(str(recurrence).split()),
        time_zone=str(zone),
        min_size=low,
        max_size=high,
        desired_capacity=desired,
    )
