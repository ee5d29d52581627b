"""The failover decisions, as plain functions over what one look at AWS and Trino showed.

Kept free of I/O so that every rule below is a unit test over a few values:
- the ENI holder is never left just because of one failed probe: it must fail FAILED_PROBES in a
  row and keep failing for UNRESPONSIVE_SECONDS (longer than a GC or I/O pause it should ride out;
  a stopped or vanished instance counts as failed at once: EC2 itself says so);
- a holder whose port refuses connections REFUSED_PROBES times in a row has no Trino process: it
  loses the ENI at once, without the pause allowance (a paused JVM's port still accepts);
- the ENI never leaves a holder that answered its last probe;
- the ENI only goes to a coordinator that is InService and Healthy in its group, running, and
  answered its own probe just now; with none, the ENI stays where it is and the log says why;
- a standby that keeps failing while the holder is healthy is replaced (it would not be able to
  take over), but only after the grace period since its launch, so a booting one is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from node_agent.trino.health import Probe

RUNNING = "running"
# Refused connections in a row that move the address without the pause allowance: a JVM that is
# paused still completes the TCP handshake (its kernel does), so only a dead process is refused.
REFUSED_PROBES = 2
MISSING = "missing"  # DescribeInstances no longer knows the instance


@dataclass(frozen=True)
class Coordinator:
    instance_id: str
    address: str | None  # private IPv4 of its primary interface
    ec2_state: str  # running, stopping, stopped, shutting-down, terminated, pending, or MISSING
    in_group: bool  # a member of the coordinator Auto Scaling group
    lifecycle_state: str | None = None  # InService, Pending, Terminating, ... (group members only)
    health_status: str | None = None  # Healthy | Unhealthy (group members only)
    launched_at: datetime | None = None

    @property
    def alive(self) -> bool:
        return self.ec2_state == RUNNING

    @property
    def can_serve(self) -> bool:
        """May hold the ENI: running, InService and Healthy in the group, with an address to probe."""
        return (
            self.alive
            and self.in_group
            and self.lifecycle_state == "InService"
            and self.health_status == "Healthy"
            and self.address is not None
        )


@dataclass(frozen=True)
class EniState:
    eni_id: str
    status: str  # available | in-use | attaching | detaching
    instance_id: str | None
    attachment_id: str | None
    attachment_status: str | None  # attaching | attached | detaching | detached

    @property
    def unattached(self) -> bool:
        return self.instance_id is None and self.status == "available"

    @property
    def in_transition(self) -> bool:
        return self.status in ("attaching", "detaching") or self.attachment_status in (
            "attaching",
            "detaching",
        )


@dataclass(frozen=True)
class Observation:
    eni: EniState
    coordinators: Mapping[str, Coordinator]  # the group's members, plus the holder if it is not one

    @property
    def holder(self) -> Coordinator | None:
        if self.eni.instance_id is None:
            return None
        return self.coordinators.get(self.eni.instance_id)


class Action(StrEnum):
    KEEP = "holder_healthy"
    WAIT = "holder_failing"  # failed, but fewer than FAILED_PROBES times in a row
    MOVE = "move_eni"
    ATTACH = "attach_eni"
    NO_STANDBY = "no_healthy_standby"
    NO_COORDINATOR = "no_healthy_coordinator"  # the ENI is unattached and nobody can take it
    IN_TRANSITION = "eni_in_transition"  # attaching/detaching right now: look again next round


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    holder: str | None = None
    target: str | None = None
    failures: int = 0


def next_refusals(previous: Mapping[str, int], probes: Mapping[str, Probe]) -> dict[str, int]:
    """Consecutive refused probes per instance: any other outcome resets."""
    return {iid: previous.get(iid, 0) + 1 if probe.refused else 0 for iid, probe in probes.items()}


def next_streaks(previous: Mapping[str, int], probes: Mapping[str, Probe]) -> dict[str, int]:
    """Consecutive failed probes per instance: a healthy probe resets, a failed one adds one.

    Instances not probed this round drop out, so a coordinator that comes back later starts at 0.
    """
    return {iid: 0 if probe.healthy else previous.get(iid, 0) + 1 for iid, probe in probes.items()}


def decide(
    observation: Observation,
    probes: Mapping[str, Probe],
    streaks: Mapping[str, int],
    failed_probes: int,
    *,
    failing_seconds: Mapping[str, float] | None = None,
    unresponsive_seconds: float = 0.0,
    refused: Mapping[str, int] | None = None,
) -> Decision:
    """Where the ENI should be, given this round's probes and the failure streaks so far.

    `probes` holds this round's result for the holder and for every coordinator that can serve;
    `streaks` already includes this round (see next_streaks); `failing_seconds` is how long each
    instance's streak has lasted, from its first failed probe to this one.
    """
    eni = observation.eni
    if eni.in_transition:
        return Decision(Action.IN_TRANSITION, f"ENI is {eni.status}/{eni.attachment_status}", eni.instance_id)
    if eni.instance_id is None:
        target = _healthy_standby(observation, probes, exclude=None)
        if target is None:
            return Decision(Action.NO_COORDINATOR, "ENI is unattached and no coordinator is healthy")
        return Decision(Action.ATTACH, "ENI is unattached", target=target)

    holder_id = eni.instance_id
    holder = observation.holder
    if holder is not None and not holder.alive:
        failures, why = failed_probes, f"holder instance is {holder.ec2_state}"
    else:
        probe = probes.get(holder_id, Probe(False, "holder is not a known instance"))
        if probe.healthy:
            return Decision(Action.KEEP, "holder answered", holder=holder_id)
        else:
            failures, why = streaks.get(holder_id, 1), probe.reason
            failing_for = (failing_seconds or {}).get(holder_id, 0.0)
            refusals = (refused or {}).get(holder_id, 0)
            if refusals >= REFUSED_PROBES:
                # Nothing listens on its port: Trino is dead, not paused. No pause allowance.
                failures, why = max(failures, failed_probes), f"{why} ({refusals} refused probes in a row)"
            elif failures >= failed_probes and failing_for < unresponsive_seconds:
                return Decision(
                    Action.WAIT,
                    f"{why} ({failures} failed probes, {failing_for:.0f} of {unresponsive_seconds:.0f} s)",
                    holder_id,
                    failures=failures,
                )
    if failures < failed_probes:
        return Decision(
            Action.WAIT, f"{why} ({failures} of {failed_probes} failed probes)", holder_id, failures=failures
        )
    target = _healthy_standby(observation, probes, exclude=holder_id)
    if target is None:
        return Decision(
            Action.NO_STANDBY,
            f"{why}; no standby is InService, Healthy and answering, so the ENI stays",
            holder_id,
            failures=failures,
        )
    return Decision(Action.MOVE, why, holder=holder_id, target=target, failures=failures)


def _healthy_standby(
    observation: Observation, probes: Mapping[str, Probe], exclude: str | None
) -> str | None:
    """The longest-running coordinator that may serve and answered its probe this round."""
    ready = [
        c
        for c in observation.coordinators.values()
        if c.instance_id != exclude and c.can_serve and probes.get(c.instance_id, _NOT_PROBED).healthy
    ]
    ready.sort(key=lambda c: (c.launched_at is None, c.launched_at or datetime.min, c.instance_id))
    return ready[0].instance_id if ready else None


_NOT_PROBED = Probe(False, "not probed")


def instances_to_probe(observation: Observation) -> dict[str, str | None]:
    """instance id -> address for the live holder and every coordinator that could take the ENI.

    A live holder without an address is still listed (with None): the caller records that as a
    failed probe, so a holder that cannot be reached still builds a failure streak.
    """
    wanted: dict[str, str | None] = {}
    holder = observation.holder
    if holder is not None and holder.alive:
        wanted[holder.instance_id] = holder.address
    for c in observation.coordinators.values():
        if c.can_serve:
            wanted[c.instance_id] = c.address
    return wanted


def standbys_to_replace(
    observation: Observation,
    probes: Mapping[str, Probe],
    streaks: Mapping[str, int],
    *,
    failed_probes: int,
    grace: timedelta,
    now: datetime,
) -> list[str]:
    """Standbys that failed FAILED_PROBES in a row while the holder kept answering.

    Only while the holder answers: if every coordinator fails at once, the cause is more likely
    between the function and the nodes (network, security group) than in each node, and replacing
    them would make things worse.
    """
    holder_id = observation.eni.instance_id
    if holder_id is None or not probes.get(holder_id, _NOT_PROBED).healthy:
        return []
    sick = []
    for c in observation.coordinators.values():
        if c.instance_id == holder_id or not c.can_serve:
            continue
        if c.launched_at is not None and now - c.launched_at < grace:
            continue
        if streaks.get(c.instance_id, 0) >= failed_probes:
            sick.append(c.instance_id)
    return sorted(sick)
