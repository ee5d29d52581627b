"""Trino's query ids as a sequence: which queries a coordinator was given between two moments.

The switchover's check that no query slipped onto the holder while the address moved: a query
whose client has its POST's answer but has not followed the nextUri yet is not dispatched, so no
listing shows it; its id, allocated at the POST, is a gap in the sequence between two marks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

# A client with the POST's answer follows its nextUri at once (the trino clients do; one whose
# request the move reset retries within a second or two). An id unlisted this long while the
# holder answers is a submission nobody follows: its answer was lost with a connection the move
# reset (the client submitted anew) or its client left. Trino drops such a query itself after
# query.client.timeout (5 minutes), never listing it.
UNFOLLOWED_GRACE_SECONDS = 10.0


def undispatched_between(first: str, last: str, listed: set[str]) -> list[str]:
    """The ids a coordinator allocated strictly between two of its query ids and does not list.

    Trino's query ids are `yyyyMMdd_HHmmss_NNNNN_<coordinator>`, the counter rising through the
    day in submission order; the time part of an id in between is unknown, so ids are compared
    by day, counter and coordinator. Marks from different days or coordinators bracket nothing.
    """
    return _between(first, last, _listed_keys(listed))


def still_undispatched(ids: list[str], listed: set[str]) -> list[str]:
    """The ids undispatched_between gave earlier that `listed` still does not hold.

    A query stays undispatched until its client follows the POST's nextUri, which a slow client
    (or one whose request the move interrupted) may do only several looks later; until then it
    is carried from look to look, not forgotten when the window moves on.
    """
    return _not_in(ids, _listed_keys(listed))


Keys = set[tuple[str, int, str]]


def _between(first: str, last: str, seen: Keys) -> list[str]:
    try:
        day, _, start, node = _id_parts(first)
        last_day, _, end, last_node = _id_parts(last)
    except ValueError:
        return []
    if (day, node) != (last_day, last_node):
        return []
    return [f"{day}_*_{n:05d}_{node}" for n in range(start + 1, end) if (day, n, node) not in seen]


def _not_in(ids: list[str], seen: Keys) -> list[str]:
    return [query_id for query_id in ids if _key(query_id) not in seen]


def _listed_keys(listed: set[str]) -> Keys:
    """(day, counter, coordinator) of each listed id, parsed once per look; odd ids are skipped."""
    seen = set()
    for query_id in listed:
        with contextlib.suppress(ValueError):
            seen.add(_key(query_id))
    return seen


def _key(query_id: str) -> tuple[str, int, str]:
    day, _, counter, node = _id_parts(query_id)
    return day, counter, node


def _id_parts(query_id: str) -> tuple[str, str, int, str]:
    day, time, counter, node = query_id.split("_")
    return day, time, int(counter), node


@dataclass
class PendingSubmissions:
    """The undispatched ids one switchover waits on, carried from look to look.

    `own` are the switchover's marks (cancelled before dispatch, so never listed); `given_up`
    the ids unlisted for `grace_seconds` of the holder answering, which no client will follow.
    Both are left out of every later look: each lies inside later windows and would otherwise
    hold the move for good.
    """

    grace_seconds: float = UNFOLLOWED_GRACE_SECONDS
    own: set[str] = field(default_factory=set)
    given_up: set[str] = field(default_factory=set)
    _first_seen: dict[str, float] = field(default_factory=dict)

    def restart_grace(self, now: float) -> None:
        """The address is back on the holder: no client could follow while it was away."""
        self._first_seen = dict.fromkeys(self._first_seen, now)

    def look(self, first: str, last: str, listed: set[str], now: float) -> tuple[list[str], list[str]]:
        """(ids still pending, ids given up at this look) for the window first..last at `now`."""
        accounted = _listed_keys(listed | self.own | self.given_up)  # parsed once per look
        found = _not_in(list(self._first_seen), accounted) + _between(first, last, accounted)
        seen = {query_id: self._first_seen.get(query_id, now) for query_id in dict.fromkeys(found)}
        late = [query_id for query_id, since in seen.items() if now - since >= self.grace_seconds]
        self.given_up.update(late)
        self._first_seen = {query_id: since for query_id, since in seen.items() if query_id not in late}
        return list(self._first_seen), late
