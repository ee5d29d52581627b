"""This instance's termination lifecycle action: the two calls the drain makes on it.

The group and the hook are looked up once (an unconfigured hook name means the group's one
termination hook). AWS's answer "No active Lifecycle Action found" becomes ActionGone: the action
timed out or was completed elsewhere, so the drain is over and retrying would only fail again.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

TERMINATING_TRANSITION = "autoscaling:EC2_INSTANCE_TERMINATING"


class NoLifecycleAction(Exception):
    """This instance has no group or its group no termination hook: nothing to heartbeat."""


class ActionGone(Exception):
    """The lifecycle action is no longer active (timed out, or completed elsewhere)."""


# What a call may raise that is worth a retry on the next step; the message says which.
RETRYABLE = (ClientError, BotoCoreError, NoLifecycleAction)


class LifecycleAction:
    def __init__(self, autoscaling: Any, instance_id: str, hook_name: str = "") -> None:
        self.autoscaling = autoscaling
        self.instance_id = instance_id
        self._group: str | None = None
        self._hook: str | None = hook_name or None

    def heartbeat(self) -> None:
        self._call(self.autoscaling.record_lifecycle_action_heartbeat)

    def complete(self) -> None:
        """CONTINUE: the instance may be terminated now."""
        self._call(self.autoscaling.complete_lifecycle_action, LifecycleActionResult="CONTINUE")

    def _call(self, operation: Any, **extra: str) -> None:
        group, hook = self._group_and_hook()
        try:
            operation(
                AutoScalingGroupName=group, LifecycleHookName=hook, InstanceId=self.instance_id, **extra
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationError" and "No active Lifecycle Action" in str(
                error.get("Message")
            ):
                raise ActionGone(str(error.get("Message"))) from exc
            raise

    def _group_and_hook(self) -> tuple[str, str]:
        if self._group is None:
            found = self.autoscaling.describe_auto_scaling_instances(InstanceIds=[self.instance_id])
            instances = found.get("AutoScalingInstances", [])
            if not instances:
                raise NoLifecycleAction(f"instance {self.instance_id} is in no Auto Scaling group")
            self._group = str(instances[0]["AutoScalingGroupName"])
        if self._hook is None:
            hooks = self.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=self._group)[
                "LifecycleHooks"
            ]
            names = [
                h["LifecycleHookName"] for h in hooks if h["LifecycleTransition"] == TERMINATING_TRANSITION
            ]
            if len(names) != 1:
                raise NoLifecycleAction(f"group {self._group} has {len(names)} termination hooks, not one")
            self._hook = str(names[0])
        return self._group, self._hook


def describe(exc: Exception) -> str:
    """One line for the log: an AWS error's code and message, else the exception's text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)
