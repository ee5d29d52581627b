"""The failover rules over plain values: no AWS, no Trino."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.failover.rules import (
    MISSING,
    Action,
    Coordinator,
    EniState,
    Observation,
    Probe,
    decide,
    instances_to_probe,
    next_refusals,
    next_streaks,
    standbys_to_replace,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
OK = Probe(True, "healthy")
DOWN = Probe(False, "unreachable: connection refused")


def coordinator(iid: str, **changes: Any) -> Coordinator:
    base = Coordinator(
        instance_id=iid,
        address=f"10.0.1.{len(iid)}",
        ec2_state="running",
        in_group=True,
        lifecycle_state="InService",
        health_status="Healthy",
        launched_at=NOW - timedelta(hours=1),
    )
    return replace(base, **changes)


def attached_to(iid: str | None) -> EniState:
    if iid is None:
        return EniState("eni-1", "available", None, None, None)
    return EniState("eni-1", "in-use", iid, "eni-attach-1", "attached")


def world(holder: str | None = "i-a", **replaced: Coordinator) -> Observation:
    members = {"i-a": coordinator("i-a"), "i-b": coordinator("i-b")}
    members.update(replaced)
    return Observation(attached_to(holder), members)


def run_rounds(observation: Observation, rounds: list[dict[str, Probe]], k: int = 3) -> list[Action]:
    streaks: dict[str, int] = {}
    actions = []
    for probes in rounds:
        streaks = next_streaks(streaks, probes)
        actions.append(decide(observation, probes, streaks, k).action)
    return actions


def test_one_failed_probe_does_not_move_the_eni() -> None:
    actions = run_rounds(world(), [{"i-a": OK, "i-b": OK}, {"i-a": DOWN, "i-b": OK}, {"i-a": OK, "i-b": OK}])
    assert actions == [Action.KEEP, Action.WAIT, Action.KEEP]


def test_the_eni_moves_after_the_configured_number_of_consecutive_failed_probes() -> None:
    rounds = [{"i-a": DOWN, "i-b": OK}] * 3
    observation = world()
    streaks: dict[str, int] = {}
    for probes in rounds:
        streaks = next_streaks(streaks, probes)
    decision = decide(observation, rounds[-1], streaks, 3)
    assert (decision.action, decision.holder, decision.target, decision.failures) == (
        Action.MOVE,
        "i-a",
        "i-b",
        3,
    )


def test_a_flapping_holder_never_reaches_the_threshold() -> None:
    flapping = [{"i-a": DOWN if n % 3 != 2 else OK, "i-b": OK} for n in range(12)]
    assert Action.MOVE not in run_rounds(world(), flapping)


def test_a_healthy_holder_keeps_the_eni_whatever_its_history() -> None:
    decision = decide(world(), {"i-a": OK, "i-b": OK}, {"i-a": 0, "i-b": 0}, 1)
    assert decision.action is Action.KEEP


def test_with_a_threshold_of_one_the_first_failed_probe_moves_the_eni() -> None:
    assert run_rounds(world(), [{"i-a": DOWN, "i-b": OK}], k=1) == [Action.MOVE]


def test_a_stopped_holder_is_left_at_once_without_waiting_for_probes() -> None:
    observation = world(**{"i-a": coordinator("i-a", ec2_state="stopped")})
    decision = decide(observation, {"i-b": OK}, {"i-b": 0}, 3)
    assert (decision.action, decision.target) == (Action.MOVE, "i-b")
    assert "stopped" in decision.reason


def test_a_holder_ec2_no_longer_knows_is_left_at_once() -> None:
    observation = world(**{"i-a": coordinator("i-a", ec2_state=MISSING, in_group=False, address=None)})
    decision = decide(observation, {"i-b": OK}, {"i-b": 0}, 3)
    assert (decision.action, decision.target) == (Action.MOVE, "i-b")


def test_with_no_healthy_standby_the_eni_stays_and_the_decision_says_why() -> None:
    actions = run_rounds(world(), [{"i-a": DOWN, "i-b": DOWN}] * 4)
    assert actions == [Action.WAIT, Action.WAIT, Action.NO_STANDBY, Action.NO_STANDBY]
    streaks = {"i-a": 3, "i-b": 3}
    decision = decide(world(), {"i-a": DOWN, "i-b": DOWN}, streaks, 3)
    assert "no standby" in decision.reason and decision.target is None


def test_a_standby_that_is_unhealthy_in_its_group_is_not_a_target() -> None:
    observation = world(**{"i-b": coordinator("i-b", health_status="Unhealthy")})
    actions = run_rounds(observation, [{"i-a": DOWN, "i-b": OK}] * 3)
    assert actions[-1] is Action.NO_STANDBY


def test_a_standby_still_pending_in_its_group_is_not_a_target() -> None:
    observation = world(**{"i-b": coordinator("i-b", lifecycle_state="Pending")})
    actions = run_rounds(observation, [{"i-a": DOWN, "i-b": OK}] * 3)
    assert actions[-1] is Action.NO_STANDBY


def test_a_standby_that_is_still_starting_is_not_a_target() -> None:
    actions = run_rounds(world(), [{"i-a": DOWN, "i-b": Probe(False, "starting")}] * 3)
    assert actions[-1] is Action.NO_STANDBY


def test_the_longest_running_healthy_standby_is_chosen() -> None:
    observation = world(
        **{
            "i-b": coordinator("i-b", launched_at=NOW - timedelta(minutes=5)),
            "i-c": coordinator("i-c", launched_at=NOW - timedelta(days=2)),
        }
    )
    decision = decide(observation, {"i-a": DOWN, "i-b": OK, "i-c": OK}, {"i-a": 3}, 3)
    assert decision.target == "i-c"


def test_an_unattached_eni_goes_to_a_healthy_coordinator_after_one_probe() -> None:
    decision = decide(world(holder=None), {"i-a": DOWN, "i-b": OK}, {"i-a": 1, "i-b": 0}, 3)
    assert (decision.action, decision.target) == (Action.ATTACH, "i-b")


def test_an_unattached_eni_stays_unattached_when_no_coordinator_answers() -> None:
    decision = decide(world(holder=None), {"i-a": DOWN, "i-b": DOWN}, {"i-a": 1, "i-b": 1}, 3)
    assert decision.action is Action.NO_COORDINATOR


def test_an_eni_in_the_middle_of_detaching_is_left_alone() -> None:
    observation = Observation(
        EniState("eni-1", "detaching", "i-a", "eni-attach-1", "detaching"), world().coordinators
    )
    assert decide(observation, {"i-a": DOWN, "i-b": OK}, {"i-a": 9}, 3).action is Action.IN_TRANSITION


def test_a_healthy_probe_resets_the_streak_and_an_unprobed_instance_drops_out() -> None:
    assert next_streaks({"i-a": 2, "i-b": 4}, {"i-a": OK, "i-c": DOWN}) == {"i-a": 0, "i-c": 1}


def test_the_live_holder_is_probed_even_without_an_address() -> None:
    observation = world(**{"i-a": coordinator("i-a", address=None)})
    assert instances_to_probe(observation) == {"i-a": None, "i-b": "10.0.1.3"}


def test_a_stopped_holder_and_an_unhealthy_member_are_not_probed() -> None:
    observation = world(
        **{
            "i-a": coordinator("i-a", ec2_state="stopped"),
            "i-b": coordinator("i-b", health_status="Unhealthy"),
        }
    )
    assert instances_to_probe(observation) == {}


def test_a_standby_failing_repeatedly_beside_a_healthy_holder_is_replaced() -> None:
    sick = standbys_to_replace(
        world(), {"i-a": OK, "i-b": DOWN}, {"i-a": 0, "i-b": 3}, failed_probes=3, grace=timedelta(0), now=NOW
    )
    assert sick == ["i-b"]


def test_a_standby_within_its_grace_period_is_not_replaced() -> None:
    observation = world(**{"i-b": coordinator("i-b", launched_at=NOW - timedelta(minutes=2))})
    sick = standbys_to_replace(
        observation,
        {"i-a": OK, "i-b": DOWN},
        {"i-b": 30},
        failed_probes=3,
        grace=timedelta(minutes=10),
        now=NOW,
    )
    assert sick == []


def test_no_standby_is_replaced_while_the_holder_fails_too() -> None:
    sick = standbys_to_replace(
        world(),
        {"i-a": DOWN, "i-b": DOWN},
        {"i-a": 5, "i-b": 5},
        failed_probes=3,
        grace=timedelta(0),
        now=NOW,
    )
    assert sick == []


def test_enough_failed_probes_within_a_short_pause_do_not_move_the_eni() -> None:
    """Four failures in 15 s (a long GC) are still a pause, not a dead coordinator."""
    probes = {"i-a": DOWN, "i-b": OK}
    decision = decide(world(), probes, {"i-a": 4}, 3, failing_seconds={"i-a": 15.0}, unresponsive_seconds=20)
    assert (decision.action, decision.failures) == (Action.WAIT, 4)
    assert "15 of 20 s" in decision.reason


def test_the_eni_moves_once_the_holder_failed_for_the_unresponsive_time() -> None:
    probes = {"i-a": DOWN, "i-b": OK}
    decision = decide(world(), probes, {"i-a": 5}, 3, failing_seconds={"i-a": 20.0}, unresponsive_seconds=20)
    assert (decision.action, decision.target) == (Action.MOVE, "i-b")


def test_a_stopped_holder_loses_the_eni_without_waiting_for_the_unresponsive_time() -> None:
    observation = world(**{"i-a": coordinator("i-a", ec2_state="stopping")})
    decision = decide(observation, {"i-b": OK}, {}, 3, failing_seconds={}, unresponsive_seconds=20)
    assert (decision.action, decision.target) == (Action.MOVE, "i-b")


REFUSED = Probe(False, "unreachable: GET /v1/info: [Errno 111] Connection refused", refused=True)
TIMED_OUT = Probe(False, "unreachable: GET /v1/info: timed out")


def test_a_holder_whose_port_refuses_twice_loses_the_eni_without_the_pause_allowance() -> None:
    probes = {"i-a": REFUSED, "i-b": OK}
    decision = decide(
        world(),
        probes,
        {"i-a": 2},
        3,
        failing_seconds={"i-a": 1.0},
        unresponsive_seconds=20,
        refused={"i-a": 2},
    )
    assert (decision.action, decision.target) == (Action.MOVE, "i-b")
    assert "2 refused probes in a row" in decision.reason


def test_one_refused_probe_does_not_move_the_eni() -> None:
    probes = {"i-a": REFUSED, "i-b": OK}
    decision = decide(world(), probes, {"i-a": 1}, 3, unresponsive_seconds=20, refused={"i-a": 1})
    assert decision.action is Action.WAIT


def test_a_holder_that_accepts_and_then_says_nothing_keeps_the_pause_allowance() -> None:
    """A paused JVM: its kernel completes the handshake, the read times out."""
    probes = {"i-a": TIMED_OUT, "i-b": OK}
    decision = decide(
        world(),
        probes,
        {"i-a": 4},
        3,
        failing_seconds={"i-a": 15.0},
        unresponsive_seconds=20,
        refused={"i-a": 0},
    )
    assert decision.action is Action.WAIT


def test_a_timeout_between_refusals_starts_the_refusal_count_again() -> None:
    counts = next_refusals({}, {"i-a": REFUSED})
    counts = next_refusals(counts, {"i-a": TIMED_OUT})
    assert next_refusals(counts, {"i-a": REFUSED}) == {"i-a": 1}
