"""Trino's query ids as a sequence: which queries a coordinator was given between two moments.

The switchover's check that no query slipped onto the holder while the address moved: a query
whose client has its POST's answer but has not followed the nextUri yet is not dispatched, so no
listing shows it; its id, allocated at the POST, is a gap in the sequence between two marks.
"""

from __future__ import annotations

import contextlib


def undispatched_between(first: str, last: str, listed: set[str]) -> list[str]:
    """The ids a coordinator allocated strictly between two of its query ids and does not list.

    Trino's query ids are `yyyyMMdd_HHmmss_NNNNN_<coordinator>`, the counter rising through the
    day in submission order; the time part of an id in between is unknown, so ids are compared
    by day, counter and coordinator. Marks from different days or coordinators bracket nothing.
    """
    try:
        day, _, start, node = _id_parts(first)
        last_day, _, end, last_node = _id_parts(last)
    except ValueError:
        return []
    if (day, node) != (last_day, last_node):
        return []
    seen = _listed_keys(listed)
    return [f"{day}_*_{n:05d}_{node}" for n in range(start + 1, end) if (day, n, node) not in seen]


def still_undispatched(ids: list[str], listed: set[str]) -> list[str]:
    """The ids undispatched_between gave earlier that `listed` still does not hold.

    A query stays undispatched until its client follows the POST's nextUri, which a slow client
    (or one whose request the move interrupted) may do only several looks later; until then it
    is carried from look to look, not forgotten when the window moves on.
    """
    seen = _listed_keys(listed)
    return [query_id for query_id in ids if _key(query_id) not in seen]


def _listed_keys(listed: set[str]) -> set[tuple[str, int, str]]:
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
