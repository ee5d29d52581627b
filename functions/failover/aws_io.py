"""The failover function's AWS reads and writes, kept thin: describe, then one guarded action.

Moving the ENI is the one step two invocations could race on (the schedule and an EC2 event can
run at once), so it is guarded by the attachment itself: the ENI is detached only with the
attachment id this invocation observed, re-described right before acting, and EC2 accepts that
detach exactly once. Only the invocation whose detach succeeded attaches the ENI again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from functions.failover.rules import MISSING, Coordinator, EniState, Observation
from functions.shared.ec2_batch import describe_instances
from functions.shared.lambda_support import AWS_ERRORS, AwsErrorKind, aws_error_kind
from node_agent.contract import COORDINATOR_ENI_DEVICE_INDEX


class MoveOutcome(StrEnum):
    MOVED = "moved"
    ATTACHED = "attached"
    ALREADY_MOVED = "already_moved"  # another invocation (or a person) moved it first
    LOST_RACE = "lost_race"  # our detach or attach was refused because someone else acted
    DETACH_STUCK = "detach_stuck"  # detached, but not available in time: the next round attaches
    ATTACH_FAILED = "attach_failed"  # detached, but the target refused it: the next round attaches
    RETURNED = "returned"  # detached, then put back on the holder: work began there during the move


@dataclass(frozen=True)
class MoveResult:
    outcome: MoveOutcome
    eni_holder: str | None  # where the ENI is now, as far as this invocation knows
    detail: str = ""
    detached: bool = False  # this invocation detached the ENI from the old holder


def describe_eni(ec2: Any, eni_id: str) -> EniState:
    answer = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"]
    if not answer:
        raise LookupError(f"ENI {eni_id} does not exist")
    eni = answer[0]
    attachment = eni.get("Attachment") or {}
    return EniState(
        eni_id=eni_id,
        status=str(eni.get("Status", "")),
        instance_id=attachment.get("InstanceId"),
        attachment_id=attachment.get("AttachmentId"),
        attachment_status=attachment.get("Status"),
    )


def describe_group_members(autoscaling: Any, group_name: str) -> dict[str, dict[str, str]]:
    """instance id -> {LifecycleState, HealthStatus} for the coordinator group's members."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    if not groups:
        raise LookupError(f"Auto Scaling group {group_name} does not exist")
    return {
        i["InstanceId"]: {"LifecycleState": i["LifecycleState"], "HealthStatus": i["HealthStatus"]}
        for i in groups[0].get("Instances", [])
    }


def observe(ec2: Any, autoscaling: Any, eni_id: str, group_name: str) -> Observation:
    """One consistent-enough look at the ENI and every coordinator that matters to it."""
    eni = describe_eni(ec2, eni_id)
    members = describe_group_members(autoscaling, group_name)
    ids = sorted(set(members) | ({eni.instance_id} if eni.instance_id else set()))
    records = describe_instances(ec2, ids)
    coordinators = {}
    for iid in ids:
        record = records.get(iid)
        member = members.get(iid, {})
        coordinators[iid] = Coordinator(
            instance_id=iid,
            address=record.get("PrivateIpAddress") if record else None,
            ec2_state=record["State"]["Name"] if record else MISSING,
            in_group=iid in members,
            lifecycle_state=member.get("LifecycleState"),
            health_status=member.get("HealthStatus"),
            launched_at=record.get("LaunchTime") if record else None,
        )
    return Observation(eni=eni, coordinators=coordinators)


def move_eni(
    ec2: Any,
    observed: EniState,
    target: str,
    *,
    wait_available: Callable[[], bool],
    attach: Callable[[Callable[[], MoveResult]], MoveResult] | None = None,
    keep_holder: Callable[[], str | None] | None = None,
) -> MoveResult:
    """Move the ENI from the failed holder we observed to `target`, unless someone beat us to it.

    `wait_available` polls until the ENI is available after the detach (bounded by the caller);
    `attach` runs the attach step (the caller retries it on a throttle; by default it runs once).
    Force-detaches: this runs only for a holder that failed its probes for long enough or is
    no longer running, which is the case AWS documents Force for (a failed instance that may not
    release the interface by itself); that instance is then marked Unhealthy and replaced.

    `keep_holder` (the switchover's) is asked once the ENI is free, when no new request can reach
    the holder any more: a reason there means work began on the holder between the caller's last
    look and the detach, and the ENI goes back to the holder instead (outcome RETURNED).
    """
    current = describe_eni(ec2, observed.eni_id)
    if current.instance_id != observed.instance_id or current.attachment_id != observed.attachment_id:
        return MoveResult(
            MoveOutcome.ALREADY_MOVED,
            current.instance_id,
            f"expected attachment {observed.attachment_id} to {observed.instance_id}, "
            f"found {current.attachment_id} to {current.instance_id}",
        )
    try:
        ec2.detach_network_interface(AttachmentId=observed.attachment_id, Force=True)
    except AWS_ERRORS as exc:
        if aws_error_kind(exc) is AwsErrorKind.NOT_FOUND:
            return MoveResult(
                MoveOutcome.LOST_RACE, None, f"attachment {observed.attachment_id} was already detached"
            )
        raise
    if not wait_available():
        return MoveResult(
            MoveOutcome.DETACH_STUCK, None, "detached, but the ENI did not become available", detached=True
        )

    reason = keep_holder() if keep_holder is not None else None
    if reason is not None:
        target = str(observed.instance_id)
    success = MoveOutcome.MOVED if reason is None else MoveOutcome.RETURNED

    def attach_step() -> MoveResult:
        # Described again on every try: a try whose answer was lost may have attached it already.
        now = describe_eni(ec2, observed.eni_id)
        if now.instance_id == target:
            return MoveResult(success, target, reason or "", detached=True)
        if now.instance_id is not None:
            return MoveResult(
                MoveOutcome.LOST_RACE, now.instance_id, "attached elsewhere after our detach", detached=True
            )
        try:
            ec2.attach_network_interface(
                NetworkInterfaceId=observed.eni_id,
                InstanceId=target,
                DeviceIndex=COORDINATOR_ENI_DEVICE_INDEX,
            )
        except AWS_ERRORS as exc:
            if aws_error_kind(exc) in (AwsErrorKind.INVALID, AwsErrorKind.NOT_FOUND):
                return MoveResult(
                    MoveOutcome.ATTACH_FAILED, None, f"attach to {target} refused: {exc}", detached=True
                )
            raise
        return MoveResult(success, target, reason or "", detached=True)

    return attach(attach_step) if attach is not None else attach_step()


def attach_eni(ec2: Any, eni_id: str, target: str) -> MoveResult:
    """Attach an unattached ENI; EC2 refuses a second attachment, so racing invocations are safe."""
    current = describe_eni(ec2, eni_id)
    if not current.unattached:
        return MoveResult(MoveOutcome.ALREADY_MOVED, current.instance_id, f"ENI is {current.status} now")
    try:
        ec2.attach_network_interface(
            NetworkInterfaceId=eni_id, InstanceId=target, DeviceIndex=COORDINATOR_ENI_DEVICE_INDEX
        )
    except AWS_ERRORS as exc:
        if aws_error_kind(exc) in (AwsErrorKind.INVALID, AwsErrorKind.NOT_FOUND):
            holder = describe_eni(ec2, eni_id).instance_id
            outcome = MoveOutcome.LOST_RACE if holder else MoveOutcome.ATTACH_FAILED
            return MoveResult(outcome, holder, f"attach to {target} refused: {exc}")
        raise
    return MoveResult(MoveOutcome.ATTACHED, target)


def mark_unhealthy(autoscaling: Any, instance_id: str) -> None:
    """Tell the group to replace the instance now (our own probes already waited long enough)."""
    autoscaling.set_instance_health(
        InstanceId=instance_id, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False
    )
