"""What the switchover reads and remembers about a coordinator the termination hook holds.

Everything is derived from AWS on each run (who is in Terminating:Wait, each member's launch
template version), plus one tag on the leaving holder (WaitMarks) that remembers when the wait
began and when a healthy standby was first there, so every invocation continues the same wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.failover.rules import Coordinator, Observation

WAITING = "Terminating:Wait"
NO_STANDBY_SINCE = "-"
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class WaitMarks:
    """When the holder's wait began, and when a healthy standby was first there (its tag)."""

    since: datetime
    standby_since: datetime | None

    def text(self) -> str:
        standby = self.standby_since.isoformat() if self.standby_since else NO_STANDBY_SINCE
        return f"{self.since.isoformat()}|{standby}"

    @classmethod
    def parse(cls, text: str) -> WaitMarks | None:
        since, _, standby = text.partition("|")
        try:
            return cls(
                datetime.fromisoformat(since),
                None if standby in ("", NO_STANDBY_SINCE) else datetime.fromisoformat(standby),
            )
        except ValueError:
            return None


def leaving(observation: Observation) -> list[Coordinator]:
    return [c for c in observation.coordinators.values() if c.lifecycle_state == WAITING]


def group_templates(autoscaling: Any, group_name: str) -> tuple[str | None, dict[str, str]]:
    """The group's current launch template version and each member's (as Auto Scaling reports it)."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    if not groups:
        raise LookupError(f"Auto Scaling group {group_name} does not exist")
    group = groups[0]
    spec = group.get("LaunchTemplate") or (
        (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate", {}).get("LaunchTemplateSpecification")
    )
    current = str(spec["Version"]) if spec and str(spec.get("Version", "")).isdigit() else None
    members = {
        i["InstanceId"]: str((i.get("LaunchTemplate") or {}).get("Version", ""))
        for i in group.get("Instances", [])
    }
    return current, members
