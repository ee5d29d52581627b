"""A stand-in for the part of a termination lifecycle hook that moto does not simulate.

moto never puts an instance in Terminating:Wait and does not implement CompleteLifecycleAction /
RecordLifecycleActionHeartbeat. `StandInTerminationHook` plays Auto Scaling's side: `hold(id)` is
"the group started terminating this instance and the hook holds it"; DescribeAutoScalingGroups
then reports it Terminating:Wait until the action is completed (Terminating:Proceed after), and the
two lifecycle calls are answered by the node agent's StandInLifecycleApi (which, like AWS, refuses
a second completion). Everything else (instances, the ENI, tags, metrics) is moto.
"""

from __future__ import annotations

from typing import Any

from tools.harness.fakes import RecordedCall, StandInLifecycleApi


class StandInTerminationHook:
    def __init__(self, autoscaling: Any, hook_name: str) -> None:
        self.hook_name = hook_name
        self.api = StandInLifecycleApi()
        self.api.attach(autoscaling)
        self.held: set[str] = set()
        autoscaling.meta.events.register("after-call.auto-scaling.DescribeAutoScalingGroups", self._states)

    def hold(self, instance_id: str) -> None:
        self.held.add(instance_id)

    def completed(self) -> list[str]:
        return [c.params["InstanceId"] for c in self.api.completions()]

    def completions(self) -> list[RecordedCall]:
        return self.api.completions()

    def heartbeats(self) -> list[str]:
        return [c.params["InstanceId"] for c in self.api.heartbeats()]

    def _states(self, parsed: dict[str, Any], **_: Any) -> None:
        done = set(self.completed())
        for group in parsed.get("AutoScalingGroups", []):
            for instance in group.get("Instances", []):
                iid = instance["InstanceId"]
                if iid in self.held:
                    instance["LifecycleState"] = "Terminating:Proceed" if iid in done else "Terminating:Wait"
