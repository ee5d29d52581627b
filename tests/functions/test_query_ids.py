"""Gaps in a coordinator's query id sequence: the queries submitted between two marks and not listed."""

from __future__ import annotations

from functions.failover.query_ids import PendingSubmissions, still_undispatched, undispatched_between

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


def test_a_pending_id_is_carried_into_a_look_whose_window_no_longer_holds_it() -> None:
    pending = PendingSubmissions(grace_seconds=10)
    assert pending.look(qid(7), qid(9), set(), now=0.0) == ([f"20261206_*_{8:05d}_{NODE}"], [])
    assert pending.look(qid(9), qid(10), set(), now=5.0) == ([f"20261206_*_{8:05d}_{NODE}"], [])


def test_a_pending_id_that_gets_listed_is_no_longer_pending() -> None:
    pending = PendingSubmissions(grace_seconds=10)
    pending.look(qid(7), qid(9), set(), now=0.0)
    assert pending.look(qid(9), qid(10), {qid(8, "120001")}, now=1.0) == ([], [])


def test_an_id_unlisted_for_the_grace_is_given_up_once_and_never_found_again() -> None:
    pending = PendingSubmissions(grace_seconds=10)
    pending.look(qid(7), qid(9), set(), now=0.0)
    # The same window each look, as after a returned move: the id lies inside all of them.
    assert pending.look(qid(7), qid(9), set(), now=9.9) == ([f"20261206_*_{8:05d}_{NODE}"], [])
    assert pending.look(qid(7), qid(9), set(), now=10.0) == ([], [f"20261206_*_{8:05d}_{NODE}"])
    assert pending.look(qid(7), qid(9), set(), now=16.0) == ([], [])


def test_the_grace_counts_from_the_first_look_that_saw_the_id_not_from_each_look() -> None:
    pending = PendingSubmissions(grace_seconds=10)
    pending.look(qid(7), qid(9), set(), now=0.0)
    pending.look(qid(9), qid(11), set(), now=6.0)  # a second id, first seen here
    assert pending.look(qid(11), qid(12), set(), now=10.0) == (
        [f"20261206_*_{10:05d}_{NODE}"],
        [f"20261206_*_{8:05d}_{NODE}"],
    )


def test_the_switchovers_own_marks_are_never_pending() -> None:
    pending = PendingSubmissions(grace_seconds=10, own={qid(8)})
    assert pending.look(qid(7), qid(9), set(), now=0.0) == ([], [])


def test_the_grace_restarts_when_the_address_is_back_since_no_client_could_follow_meanwhile() -> None:
    pending = PendingSubmissions(grace_seconds=10)
    pending.look(qid(7), qid(9), set(), now=0.0)  # seen at the look once the ENI was free
    pending.restart_grace(now=8.0)  # the move went back to the holder
    assert pending.look(qid(7), qid(10), {qid(9)}, now=17.9) == ([f"20261206_*_{8:05d}_{NODE}"], [])
    assert pending.look(qid(7), qid(10), {qid(9)}, now=18.0) == ([], [f"20261206_*_{8:05d}_{NODE}"])
