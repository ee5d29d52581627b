"""The Automation API wrapper, through its stack-factory seam (no Pulumi CLI on this machine).

StandInStack answers with the Automation API's own result types, so the wrapper is exercised
on real UpResult / PreviewResult / OutputValue objects, and raises the API's own errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pulumi.automation as auto
import pytest

import automation
from components.settings.model import ConfigError, SecretText


def summary(kind: str, changes: dict[str, int]) -> auto.UpdateSummary:
    return auto.UpdateSummary(
        kind=kind,
        start_time=datetime(2026, 11, 26),
        message="",
        environment={},
        config={},
        result="succeeded",
        resource_changes=changes,
    )


class StandInStack:
    """A stand-in for pulumi.automation.Stack that records what the wrapper asked of it."""

    def __init__(
        self, fail_with: Exception | None = None, config: dict[str, auto.ConfigValue] | None = None
    ) -> None:
        self.config: dict[str, auto.ConfigValue] = dict(config or {})
        self.config_seen: dict[str, auto.ConfigValue] = {}  # the config when the operation ran
        self.calls: list[str] = []
        self.fail_with = fail_with

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        return dict(self.config)

    def set_all_config(self, config: dict[str, auto.ConfigValue], path: bool = False) -> None:
        self.config.update(config)

    def remove_all_config(self, keys: list[str], path: bool = False) -> None:
        for key in keys:
            del self.config[key]

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.config_seen = dict(self.config)
        if self.fail_with is not None:
            raise self.fail_with

    def up(self, **kwargs: Any) -> auto.UpResult:
        self._call("up")
        outputs = {
            "coordinatorUrl": auto.OutputValue("https://10.40.1.10:8443", secret=False),
            "token": auto.OutputValue("hidden", secret=True),
        }
        return auto.UpResult("", "", summary("update", {"create": 63}), outputs)

    def preview(self, **kwargs: Any) -> auto.PreviewResult:
        self._call("preview")
        return auto.PreviewResult("", "", {"create": 59})

    def destroy(self, **kwargs: Any) -> auto.DestroyResult:
        self._call("destroy")
        return auto.DestroyResult("", "", summary("destroy", {"delete": 63}))

    def outputs(self) -> auto.OutputMap:
        self._call("outputs")
        return {"workerGroupName": auto.OutputValue("trino-prod-workers", secret=False)}


def plain(config: dict[str, auto.ConfigValue]) -> dict[str, tuple[str, bool]]:
    return {key: (value.value, value.secret) for key, value in config.items()}


def factory_for(stand_in: StandInStack) -> automation.StackFactory:
    return lambda stack: stand_in


def test_deploy_returns_outputs_and_change_counts() -> None:
    stand_in = StandInStack()
    result = automation.deploy("prod", factory=factory_for(stand_in))
    assert result.outputs["coordinatorUrl"] == "https://10.40.1.10:8443"
    assert result.changes == {"create": 63}
    assert stand_in.calls == ["up"]


def test_secret_outputs_stay_hidden() -> None:
    result = automation.deploy("prod", factory=factory_for(StandInStack()))
    assert result.outputs["token"].secret
    assert "hidden" not in repr(result.outputs)


def test_overrides_are_written_as_the_cli_stores_them() -> None:
    stand_in = StandInStack()
    overrides = {"workerMaxSize": 60, "tls": True, "clientCidrs": ["10.1.0.0/16"]}
    automation.deploy("prod", overrides, factory=factory_for(stand_in))
    written = {key: (value.value, value.secret) for key, value in stand_in.config.items()}
    assert written == {
        "presto-on-aws:workerMaxSize": ("60", False),
        "presto-on-aws:tls": ("true", False),
        "presto-on-aws:clientCidrs": ('["10.1.0.0/16"]', False),
    }


def test_preview_runs_with_the_overrides_but_leaves_the_stack_config_as_it_was() -> None:
    before = {
        "presto-on-aws:workerMaxSize": auto.ConfigValue("40"),
        "presto-on-aws:elasticsearchPassword": auto.ConfigValue("old", secret=True),
    }
    stand_in = StandInStack(config=before)
    automation.preview(
        "prod", {"workerMaxSize": 60, "clientCidrs": ["10.1.0.0/16"]}, factory=factory_for(stand_in)
    )
    assert stand_in.config_seen["presto-on-aws:workerMaxSize"].value == "60"
    assert stand_in.config_seen["presto-on-aws:clientCidrs"].value == '["10.1.0.0/16"]'
    assert plain(stand_in.config) == plain(before)


def test_failed_preview_also_leaves_the_stack_config_as_it_was() -> None:
    failed = auto.CommandError(auto.CommandResult("", "error: preview failed", 255))
    stand_in = StandInStack(fail_with=failed, config={"presto-on-aws:workerMaxSize": auto.ConfigValue("40")})
    with pytest.raises(automation.OperationFailed):
        automation.preview("prod", {"workerMaxSize": 60}, factory=factory_for(stand_in))
    assert plain(stand_in.config) == {"presto-on-aws:workerMaxSize": ("40", False)}


def test_destroy_works_when_the_stack_file_no_longer_validates() -> None:
    assert automation.destroy("retired", factory=factory_for(StandInStack())) == {"delete": 63}


def test_outputs_work_when_the_stack_file_no_longer_validates() -> None:
    assert automation.outputs("retired", factory=factory_for(StandInStack())) == {
        "workerGroupName": "trino-prod-workers"
    }


def test_removing_a_key_through_overrides_is_refused() -> None:
    stand_in = StandInStack()
    with pytest.raises(automation.AutomationError, match="pulumi config rm"):
        automation.preview("prod", {"elasticsearchPasswordSecretArn": None}, factory=factory_for(stand_in))
    assert stand_in.calls == []


def test_secret_override_is_stored_as_a_secret() -> None:
    values = automation.config_values({"elasticsearchPassword": SecretText("pw")})
    assert values["presto-on-aws:elasticsearchPassword"].secret is True
    assert values["presto-on-aws:elasticsearchPassword"].value == "pw"


def test_bad_override_fails_before_the_cli_is_touched() -> None:
    opened: list[str] = []

    def factory(stack: str) -> StandInStack:
        opened.append(stack)
        return StandInStack()

    with pytest.raises(ConfigError, match="workerMinSize"):
        automation.deploy("prod", {"workerMinSize": 99}, factory=factory)
    assert opened == []


def test_callers_catch_config_error_from_automation_as_readme_shows() -> None:
    with pytest.raises(automation.ConfigError, match="workerMinSize"):
        automation.preview("prod", {"workerMinSize": 99}, factory=factory_for(StandInStack()))


def test_preview_returns_the_change_summary() -> None:
    assert automation.preview("dev", factory=factory_for(StandInStack())) == {"create": 59}


def test_destroy_returns_what_was_deleted() -> None:
    assert automation.destroy("dev", factory=factory_for(StandInStack())) == {"delete": 63}


def test_outputs_reads_the_stack_outputs() -> None:
    assert automation.outputs("prod", factory=factory_for(StandInStack())) == {
        "workerGroupName": "trino-prod-workers"
    }


def test_locked_stack_becomes_a_clear_error() -> None:
    locked = auto.ConcurrentUpdateError(
        auto.CommandResult("", "error: the stack is currently locked by 1 lock(s)", 255)
    )
    with pytest.raises(automation.StackLocked) as caught:
        automation.deploy("prod", factory=factory_for(StandInStack(fail_with=locked)))
    assert "pulumi cancel --stack prod" in str(caught.value)


def test_failed_update_keeps_the_cli_message() -> None:
    failed = auto.CommandError(
        auto.CommandResult("", "error: creating EC2 Launch Template: UnauthorizedOperation", 255)
    )
    with pytest.raises(automation.OperationFailed) as caught:
        automation.deploy("prod", factory=factory_for(StandInStack(fail_with=failed)))
    assert "deploy of stack 'prod' failed" in str(caught.value)
    assert "UnauthorizedOperation" in str(caught.value)


def test_missing_stack_becomes_a_clear_error() -> None:
    missing = auto.StackNotFoundError(auto.CommandResult("", "no stack named prod found", 255))
    with pytest.raises(automation.OperationFailed, match="stack 'prod' does not exist"):
        automation.outputs("prod", factory=factory_for(StandInStack(fail_with=missing)))


def test_missing_cli_becomes_a_clear_error() -> None:
    def no_cli(stack: str) -> StandInStack:
        raise FileNotFoundError(2, "No such file or directory", "pulumi")

    with pytest.raises(automation.PulumiCliMissing, match="Pulumi CLI is not installed"):
        automation.preview("dev", factory=no_cli)


def test_real_factory_without_the_cli_reports_it_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no `pulumi` to run, even on a machine that has one
    with pytest.raises(automation.PulumiCliMissing):
        automation.outputs("dev")


def test_real_factory_runs_the_same_program_as_pulumi_up(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def capture(**kwargs: Any) -> StandInStack:
        seen.update(kwargs)
        return StandInStack()

    monkeypatch.setattr(auto, "create_or_select_stack", capture)
    automation.local_stack("prod")
    ran: list[str] = []
    monkeypatch.setattr(automation, "program", lambda: ran.append("components.program.program"))
    seen["program"]()
    assert ran == ["components.program.program"]
    assert seen["project_name"] == "presto-on-aws"
    assert seen["opts"].work_dir == str(automation.REPO_ROOT)
