"""A rehearsed rollout on real Trino 476 loses no query (tests/integration/rollout_rehearsal.py).

One rehearsal: the worker rollout failed no query of a steady stream (the `trino` Python client)
running at the coordinator address, and the coordinator switchover failed none either, because the
stream has quiet moments (one client, half a second between queries) and the switchover moves the
address in one of them; the old standby is let go at once. The promise at the move: a query the
holder accepted is never cut off. A query racing the move (made to arrive between the quiet look
and the detach, every run, by MoveRacer) keeps the address on the holder until it is done; a
request the move interrupts is retried by the client, and a submission whose answer the move
lost (so no client follows it) holds the move for 10 s of the holder answering, at most. What
happens without quiet moments (the address moves at the quiet-wait limit and the queries on the
old coordinator fail) is measured by bench/rollout.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.rollout_rehearsal import RACE_ROWS, Numbers, Rehearsal
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.trino import TrinoFactory, default_settings

# Seven Trino JVMs start and stop one after another here; on CI's machine that takes a few minutes,
# on a machine shared with other suites far longer than the suite's default per-test limit.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(2400),
]

# The harness's grace period (tools.harness.trino.default_settings: 10 s, not production's 120 s, which a
# drain waits twice; test_drain.py runs the production value). It must stay above the coordinator's
# 5 s node-state poll: with 5 s, a query's task landed on a worker that was already leaving, and
# the query failed REMOTE_HOST_GONE a minute later (seen in this rehearsal).


@pytest.fixture(scope="module")
def rollout(
    trino_factory: TrinoFactory, moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Numbers]:
    moto_server.reset()
    resources: ClusterResources = moto_server.create_cluster_resources()
    settings = default_settings(trino_factory.version)
    rehearsal = Rehearsal(trino_factory, moto_server, resources, tmp_path_factory.mktemp("rollout"), settings)
    try:
        rehearsal.start()
        # 1.5 s between queries: quiet moments longer than the 1 s a finished query still counts
        # (node_agent.trino.admin.ENDED_LINGER_SECONDS), which is what "quiet moments" means now.
        # The quiet-wait limit only bounds a run that finds no quiet moment, a failure here; each
        # move that went back may cost a grace period more (a stream request it reset), so the limit
        # is production's order of magnitude, not a minimum (a CI run used up 60 s so).
        numbers = rehearsal.run(clients=1, pause=1.5, quiet_wait_seconds=240, race_the_move=True)
        print(f"rollout rehearsal: {numbers.phases}")
        for record in numbers.switchover:  # what CI's log keeps of each decision
            print("switchover:", {k: v for k, v in record.items() if k not in ("function", "cluster")})
        yield numbers
    finally:
        rehearsal.stop()


def test_the_worker_rollout_fails_no_query(rollout: Numbers) -> None:
    assert len(rollout.worker_seconds) == 2
    assert rollout.worker_failed == []
    assert rollout.queries_ok > 0


def test_the_coordinator_switchover_fails_no_query_when_the_stream_has_quiet_moments(
    rollout: Numbers,
) -> None:
    assert rollout.coordinator_seconds > 0
    assert rollout.coordinator_failed == []


def test_the_holder_hands_the_address_to_the_new_coordinator_in_a_quiet_moment(rollout: Numbers) -> None:
    decisions = [r["decision"] for r in rollout.switchover]
    assert decisions.count("switchover_moved") == 1, rollout.switchover
    assert "switchover_not_quiet" not in decisions, rollout.switchover


def test_queries_accepted_between_the_quiet_look_and_the_detach_get_every_row(rollout: Numbers) -> None:
    """One running on the holder, one submitted and not yet dispatched, one whose POST's answer the
    move lost and whose client submitted it again (MoveRacer's three kinds)."""
    assert rollout.raced_errors == {}, rollout.switchover  # the function's lines say why
    assert rollout.raced_rows == {"dispatched": RACE_ROWS, "submitted": RACE_ROWS, "abandoned": RACE_ROWS}


def test_a_submission_no_client_follows_is_given_up_and_does_not_hold_the_move(rollout: Numbers) -> None:
    """The abandoned racer's first id is never listed by Trino; the switchover stops waiting on it."""
    given_up = [r for r in rollout.switchover if r["decision"] == "switchover_submission_given_up"]
    assert [len(r["queries"]) for r in given_up] == [1], rollout.switchover


def test_the_address_goes_back_to_the_holder_while_a_query_that_raced_the_move_runs(
    rollout: Numbers,
) -> None:
    decisions = [r["decision"] for r in rollout.switchover]
    returned = [r for r in rollout.switchover if r["decision"] == "switchover_move_returned"]
    # The three racers, and any query of the steady stream that happened to race a later move.
    assert len(returned) >= 3, rollout.switchover
    # Listed as running, or (while Trino has not dispatched it yet) a gap in the id sequence.
    assert all("queries" in r["reason"] and "the holder during the move" in r["reason"] for r in returned)
    assert decisions.index("switchover_moved") > decisions.index("switchover_move_returned")


def test_the_new_coordinator_knows_every_worker_before_the_address_moves_to_it(rollout: Numbers) -> None:
    """The holder's worker announcements, copied with Trino's internal token before the move."""
    (line,) = [r for r in rollout.switchover if r["decision"] == "switchover_workers_handed_over"]
    assert line["workers"] == 2
    assert line["counted"] == 2


def test_the_old_standby_is_let_go_at_once(rollout: Numbers) -> None:
    released = [r for r in rollout.switchover if r["decision"] == "switchover_released"]
    assert len(released) == 1, rollout.switchover
