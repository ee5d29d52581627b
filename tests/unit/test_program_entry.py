"""The program function itself: config problems stop it before any resource, and it survives a
preview, where outputs such as the coordinator address are still unknown."""

from __future__ import annotations

import runpy

import pulumi
import pytest
from pulumi.output import Unknown

from components.base import REPO_ROOT
from components.program import program
from components.settings.model import ConfigError
from tools.plan.mocks import RecordingMocks, install_mocks, run_program


def test_bad_config_stops_the_program_before_any_resource_is_declared() -> None:
    monitor = install_mocks("dev", RecordingMocks("eu-west-1"), {"workerMinSize": 9, "coordinatorCount": 3})
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
    monitor = install_mocks("dev", RecordingMocks("eu-west-1"))
    pulumi.runtime.test(lambda: runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__"))()
    planned = run_program("dev")
    assert sorted((r.type, r.name) for r in monitor.recorded) == sorted(
        (r.type, r.name) for r in planned.resources
    )
