"""A worker schedule's recurrence and time zone, checked the way Auto Scaling checks them.

PutScheduledUpdateGroupAction takes `Recurrence` in traditional Unix cron: five fields, minute
(0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC) and day of week (0-6 or
SUN-SAT, Sunday 0), each `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of
those. The `?`, `L`, `W` and `#` of EventBridge and Application Auto Scaling cron are not part of
it, and neither is a year field. `TimeZone` is an IANA name (Europe/Dublin, Etc/GMT+9, UTC).

Both checks are stricter than cron implementations that take more (names inside steps, 7 for
Sunday, `a/n`), never laxer than Auto Scaling.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i

    @property
    def allowed(self) -> str:
        spelled = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.low}-{self.high}{spelled}"


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
FIELDS = (
    CronField("minute", 0, 59),
    CronField("hour", 0, 23),
    CronField("day-of-month", 1, 31),
    CronField("month", 1, 12, MONTHS),
    CronField("day-of-week", 0, 6, DAYS),
)
CRON_FORMAT = (
    "5 fields, minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) "
    "day-of-week (0-6 or SUN-SAT), each *, a value, a-b, */n or a-b/n, or a comma list; e.g. '0 20 * * 1-5'"
)
# EventBridge's ?, L (last), W (weekday), # (nth weekday): 15W, L, 5L, LW, 2#1.
_EVENTBRIDGE = re.compile(r"^(\?|L|LW|[0-9]+[LW]|[0-9A-Za-z]+#[0-9]+)$", re.IGNORECASE)
EVENTBRIDGE_ONLY = (
    "is EventBridge cron (?, L, W, #), not the Unix cron Auto Scaling takes (use * for any day)"
)
_PART = re.compile(r"^(?P<range>\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/(?P<step>[0-9]+))?$")


def recurrence_problem(recurrence: object) -> str | None:
    """Why Auto Scaling would refuse this Recurrence, or None."""
    if not isinstance(recurrence, str):
        return f"recurrence {recurrence!r} is not a cron expression (allowed: {CRON_FORMAT})"
    fields = recurrence.split()
    if len(fields) != len(FIELDS):
        return (
            f"recurrence {recurrence!r} is not a cron expression: it has {len(fields)} field(s) "
            f"(allowed: {CRON_FORMAT})"
        )
    for field, text in zip(FIELDS, fields, strict=True):
        reason = _field_problem(field, text)
        if reason:
            return f"recurrence {recurrence!r}: {field.name} {text!r} {reason}"
    return None


def _field_problem(field: CronField, text: str) -> str | None:
    for part in text.split(","):
        match = _PART.match(part)
        if _EVENTBRIDGE.match(part):
            return EVENTBRIDGE_ONLY
        if not match:
            return f"is not valid (allowed: {field.allowed}, with * , - /)"
        span, step = match["range"], match["step"]
        if span != "*":
            ends = span.split("-")
            values = [_value(field, end) for end in ends]
            bad = [end for end, value in zip(ends, values, strict=True) if value is None]
            if bad:
                hint = "; Sunday is 0" if field.name == "day-of-week" and bad[0] == "7" else ""
                what = "is out of range" if bad[0] == text else f"has {bad[0]!r}, out of range,"
                return f"{what} (allowed: {field.allowed}, with * , - /{hint})"
            low, high = (values[0], values[-1]) if len(values) == 2 else (None, None)
            if low is not None and high is not None and low > high:
                return f"is a range from {ends[0]} down to {ends[1]} (allowed: a-b with a <= b)"
            if step is not None and len(values) == 1:
                return f"steps from a single value (allowed: */n or a-b/n; {span}-{field.high}/{step})"
        if step is not None and not 1 <= int(step) <= field.high - field.low + 1:
            return f"has step {step} (allowed: 1-{field.high - field.low + 1})"
    return None


def _value(field: CronField, text: str) -> int | None:
    if text.isdigit():
        value = int(text)
        return value if field.low <= value <= field.high else None
    if text.upper() in field.names:
        return field.low + field.names.index(text.upper())
    return None


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA zones this machine knows (the system database or the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def time_zone_problem(zone: object) -> str | None:
    """Why Auto Scaling would refuse this TimeZone, or None."""
    zones = known_time_zones()
    if not zones:
        return (
            f"timeZone {zone!r} cannot be checked: this machine has no IANA time zone database "
            "(install the system tzdata package or `pip install tzdata`)"
        )
    if isinstance(zone, str) and zone in zones:
        return None
    guess = difflib.get_close_matches(str(zone), sorted(zones), n=1, cutoff=0.6)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    return (
        f"timeZone {zone!r} is not an IANA time zone (allowed: a name such as Europe/Dublin, "
        f"America/New_York, Etc/GMT+9 or UTC){hint}"
    )
