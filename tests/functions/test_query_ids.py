"""Gaps in a coordinator's query id sequence: the queries submitted between two marks and not listed."""

from __future__ import annotations

from functions.failover.query_ids import still_undispatched, undispatched_between

NODE = "x7k2m"


def qid(counter: int, time: str = "120000", day: str = "20261206", node: str = NODE) -> str:
    return f"{day}_{time}_{counter:05d}_{node}"


def test_no_id_between_two_consecutive_marks_is_no_query() -> None:
    assert undispatched_between(qid(7), qid(8), set()) == []


def test_an_id_between_the_marks_that_is_not_listed_is_an_undispatched_query() -> None:
    assert len(undispatched_between(qid(7), qid(9), set())) == 1


def test_a_listed_id_between_the_marks_is_not_undispatched_whatever_its_time_part() -> None:
    assert (
        undispatched_between(qid(7, "120000"), qid(10, "120005"), {qid(8, "120002"), qid(9, "120003")}) == []
    )


def test_another_coordinators_listed_id_does_not_count_for_this_one() -> None:
    assert len(undispatched_between(qid(7), qid(9), {qid(8, node="other")})) == 1


def test_marks_from_two_days_bracket_nothing_since_the_counter_restarts_daily() -> None:
    assert undispatched_between(qid(99998, day="20261206"), qid(2, day="20261207"), set()) == []


def test_an_id_that_is_not_trinos_shape_brackets_nothing() -> None:
    assert undispatched_between("garbage", qid(9), set()) == []
    assert undispatched_between(qid(1), qid(9), {"not_an_id"}) == [
        qid(n, "*")[:0] + f"20261206_*_{n:05d}_{NODE}" for n in range(2, 9)
    ]


def test_an_id_seen_undispatched_stays_so_until_it_is_listed() -> None:
    (waiting,) = undispatched_between(qid(7), qid(9), set())
    assert still_undispatched([waiting], {qid(7), qid(9)}) == [waiting]
    assert still_undispatched([waiting], {qid(8, "120004")}) == []


def test_an_id_listed_by_another_coordinator_is_still_undispatched_here() -> None:
    (waiting,) = undispatched_between(qid(7), qid(9), set())
    assert still_undispatched([waiting], {qid(8, node="other")}) == [waiting]
