"""The program function itself: config problems stop it before any resource, and it survives a
preview, where outputs such as the coordinator address are still unknown."""

from __future__ import annotations

import runpy

import pulumi
import pytest
from pulumi.output import Unknown

from components.base import REPO_ROOT
from components.program import program
from components.settings.keys import PROJECT
from components.settings.model import ConfigError
from components.settings.stack_file import read_stack_file
from tools.plan.mocks import RecordingMocks, RecordingMonitor, run_program


def test_bad_config_stops_the_program_before_any_resource_is_declared() -> None:
    raw, secret = read_stack_file("dev", {"workerMinSize": 9, "coordinatorCount": 3})
    mocks = RecordingMocks("eu-west-1")
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", monitor=monitor)
    pulumi.runtime.set_all_config(raw, sorted(secret))
    with pytest.raises(ConfigError) as caught:
        pulumi.runtime.test(program)()
    assert len(caught.value.problems) == 2
    assert monitor.recorded == []


def test_config_error_is_a_run_error_so_pulumi_prints_no_traceback() -> None:
    assert issubclass(ConfigError, pulumi.RunError)


def test_preview_with_unknown_values_declares_the_same_resources() -> None:
    applied = run_program("prod")
    previewed = run_program("prod", preview=True)
    assert sorted((r.type, r.name) for r in previewed.resources) == sorted(
        (r.type, r.name) for r in applied.resources
    )
    parameter = previewed.named("trino-prod-node-settings", "aws:ssm/parameter:Parameter")
    assert isinstance(parameter.inputs["tier"], Unknown), "the ENI address is unknown, so the settings are"


def test_main_module_declares_exactly_what_the_plan_shows() -> None:
    raw, secret = read_stack_file("dev")
    mocks = RecordingMocks("eu-west-1")
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", monitor=monitor)
    pulumi.runtime.set_all_config(raw, sorted(secret))
    pulumi.runtime.test(lambda: runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__"))()
    planned = run_program("dev")
    assert sorted((r.type, r.name) for r in monitor.recorded) == sorted(
        (r.type, r.name) for r in planned.resources
    )
