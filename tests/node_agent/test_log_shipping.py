"""The CloudWatch agent's configuration: the image's real template, filled from the settings the
real program writes to SSM, and handed to the agent's control script with the documented command.

The control script exists only on the AMI, so the tests that run it use a stand-in executable
that records its arguments and the file it was pointed at; everything else is the real code path
(the default subprocess runner included).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from components.base import REPO_ROOT
from node_agent.bootstrap.log_shipping import (
    AgentConfig,
    AgentNotInstalled,
    LogShippingError,
    apply_agent_config,
    render_agent_config,
    run_command,
    ship_logs,
)
from node_agent.contract import LogFile, NodeSettings
from tools.plan.mocks import Plan, reveal, run_program

REPO = REPO_ROOT
TEMPLATE = REPO / "image" / "files" / "cloudwatch-agent.json"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def dev_plan() -> Plan:
    return run_program("dev")


@pytest.fixture(scope="module")
def settings(dev_plan: Plan) -> NodeSettings:
    """What a node of the dev stack reads from SSM at boot, as the program wrote it."""
    parameter = dev_plan.of_type("aws:ssm/parameter:Parameter")[0]
    return NodeSettings.from_json(reveal(parameter.inputs["value"]))


def template_text() -> str:
    return TEMPLATE.read_text()


def template_document() -> dict[str, Any]:
    return json.loads(template_text())


def collect_list(config: AgentConfig) -> list[dict[str, Any]]:
    return json.loads(config.text)["logs"]["logs_collected"]["files"]["collect_list"]


def stand_in_ctl(tmp_path: Path, body: str = "exit 0") -> Path:
    """An executable in the control script's place: records argv and the config it was given."""
    script = tmp_path / "stand-in-amazon-cloudwatch-agent-ctl"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$0" "$@" > "{tmp_path}/argv"\n'
        'for arg in "$@"; do\n'
        f'  case "$arg" in file:*) cat "${{arg#file:}}" > "{tmp_path}/seen.json";; esac\n'
        "done\n"
        f"{body}\n"
    )
    script.chmod(0o755)
    return script


def recorded_argv(tmp_path: Path) -> list[str]:
    return (tmp_path / "argv").read_text().splitlines()


# --- rendering -------------------------------------------------------------------------------
def test_every_contract_log_file_ships_to_the_group_the_program_created_for_it(
    settings: NodeSettings, dev_plan: Plan
) -> None:
    config = render_agent_config(template_text(), settings.log_groups)
    shipped = {entry["file_path"]: entry["log_group_name"] for entry in collect_list(config)}
    created = {r.inputs["name"] for r in dev_plan.of_type(LOG_GROUP)}
    assert shipped == {log.value: settings.log_groups[log.name] for log in LogFile}
    assert set(shipped.values()) <= created
    assert shipped[LogFile.SERVER.value] == "/presto-on-aws/trino-dev/server"


def test_no_placeholder_is_left_in_the_agent_config(settings: NodeSettings) -> None:
    config = render_agent_config(template_text(), settings.log_groups)
    assert "LOG_GROUP_" not in config.text
    assert config.dropped == ()


def test_stream_names_keep_the_agents_own_instance_id_placeholder(settings: NodeSettings) -> None:
    config = render_agent_config(template_text(), settings.log_groups)
    assert {entry["log_stream_name"] for entry in collect_list(config)} == {"{instance_id}"}


def test_everything_but_the_group_names_is_the_template_unchanged(settings: NodeSettings) -> None:
    rendered = json.loads(render_agent_config(template_text(), settings.log_groups).text)
    original = template_document()
    for entry in rendered["logs"]["logs_collected"]["files"]["collect_list"]:
        entry["log_group_name"] = f"LOG_GROUP_{LogFile(entry['file_path']).name}"
    assert rendered == original


def test_retention_is_left_to_the_program_that_created_the_groups(
    settings: NodeSettings, dev_plan: Plan
) -> None:
    config = render_agent_config(template_text(), settings.log_groups)
    assert all("retention_in_days" not in entry for entry in collect_list(config))
    retention = {r.inputs["name"]: r.inputs["retentionInDays"] for r in dev_plan.of_type(LOG_GROUP)}
    assert all(retention[group] > 0 for group in settings.log_groups.values())


def test_a_template_asking_the_agent_for_retention_is_refused(settings: NodeSettings) -> None:
    document = template_document()
    document["logs"]["logs_collected"]["files"]["collect_list"][0]["retention_in_days"] = 30
    with pytest.raises(LogShippingError, match=r"collect_list\[0\] sets retention_in_days"):
        render_agent_config(json.dumps(document), settings.log_groups)


def test_a_kind_without_a_group_drops_only_its_own_entry(settings: NodeSettings) -> None:
    groups = {kind: group for kind, group in settings.log_groups.items() if kind != "HTTP_REQUEST"}
    config = render_agent_config(template_text(), groups)
    shipped = {entry["file_path"]: entry["log_group_name"] for entry in collect_list(config)}
    assert shipped == {log.value: groups[log.name] for log in LogFile if log is not LogFile.HTTP_REQUEST}
    assert config.dropped == ("HTTP_REQUEST",)
    assert "not shipping HTTP_REQUEST (no log group in the node settings)" in config.summary()


def test_settings_from_before_log_groups_existed_ship_nothing(settings: NodeSettings) -> None:
    config = render_agent_config(template_text(), dataclasses.replace(settings, log_groups={}).log_groups)
    assert collect_list(config) == []
    assert sorted(config.dropped) == sorted(log.name for log in LogFile)
    assert config.shipped == {}


def test_an_unknown_placeholder_fails_naming_it(settings: NodeSettings) -> None:
    text = template_text().replace('"LOG_GROUP_SYSLOG"', '"LOG_GROUP_GC"')
    with pytest.raises(LogShippingError, match=r"collect_list\[3\].*unknown placeholder 'LOG_GROUP_GC'"):
        render_agent_config(text, settings.log_groups)


def test_a_literal_group_name_in_the_template_is_refused(settings: NodeSettings) -> None:
    text = template_text().replace('"LOG_GROUP_SERVER"', '"/presto-on-aws/someone/server"')
    with pytest.raises(LogShippingError, match=r"'/presto-on-aws/someone/server', expected a placeholder"):
        render_agent_config(text, settings.log_groups)


def test_a_placeholder_outside_a_group_name_fails_naming_where(settings: NodeSettings) -> None:
    document = template_document()
    document["logs"]["log_stream_name"] = "LOG_GROUP_SERVER"
    with pytest.raises(LogShippingError, match=r"logs\.log_stream_name = 'LOG_GROUP_SERVER'"):
        render_agent_config(json.dumps(document), settings.log_groups)


def test_a_template_that_is_not_json_fails_clearly(settings: NodeSettings) -> None:
    with pytest.raises(LogShippingError, match="template is not valid JSON"):
        render_agent_config(template_text()[:-10], settings.log_groups)


def test_a_template_without_a_file_list_fails_clearly(settings: NodeSettings) -> None:
    document = template_document()
    del document["logs"]["logs_collected"]
    with pytest.raises(LogShippingError, match=r"has no logs\.logs_collected\.files\.collect_list"):
        render_agent_config(json.dumps(document), settings.log_groups)


# --- applying --------------------------------------------------------------------------------
def test_the_agent_is_loaded_with_the_documented_fetch_config_command(
    settings: NodeSettings, tmp_path: Path
) -> None:
    ctl = stand_in_ctl(tmp_path)
    target = tmp_path / "etc" / "amazon-cloudwatch-agent.json"
    received: list[list[str]] = []

    def recording_runner(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        received.append(list(command))
        return run_command(command)

    config = render_agent_config(template_text(), settings.log_groups)
    apply_agent_config(config, config_path=target, ctl=ctl, runner=recording_runner)
    documented = [str(ctl), "-a", "fetch-config", "-m", "ec2", "-s", "-c", f"file:{target}"]
    assert received == [documented]
    assert recorded_argv(tmp_path) == documented


def test_the_config_is_in_place_when_the_agent_reads_it(settings: NodeSettings, tmp_path: Path) -> None:
    target = tmp_path / "etc" / "amazon-cloudwatch-agent.json"
    config = render_agent_config(template_text(), settings.log_groups)
    apply_agent_config(config, config_path=target, ctl=stand_in_ctl(tmp_path))
    assert (tmp_path / "seen.json").read_text() == config.text
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_rewriting_replaces_the_file_whole_and_leaves_no_temporary_files(
    settings: NodeSettings, tmp_path: Path
) -> None:
    target = tmp_path / "etc" / "amazon-cloudwatch-agent.json"
    ctl = stand_in_ctl(tmp_path)
    first = render_agent_config(template_text(), settings.log_groups)
    second = render_agent_config(template_text(), {"SERVER": settings.log_groups["SERVER"]})
    apply_agent_config(first, config_path=target, ctl=ctl)
    apply_agent_config(second, config_path=target, ctl=ctl)
    assert target.read_text() == second.text
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_failing_control_script_raises_with_its_stderr(settings: NodeSettings, tmp_path: Path) -> None:
    ctl = stand_in_ctl(tmp_path, "echo 'E! Invalid json input schema.' >&2; exit 1")
    config = render_agent_config(template_text(), settings.log_groups)
    with pytest.raises(
        LogShippingError, match=r"fetch-config .* exited with 1: E! Invalid json input schema\."
    ):
        apply_agent_config(config, config_path=tmp_path / "agent.json", ctl=ctl)


def test_a_missing_control_script_says_the_agent_is_not_installed(
    settings: NodeSettings, tmp_path: Path
) -> None:
    target = tmp_path / "agent.json"
    config = render_agent_config(template_text(), settings.log_groups)
    with pytest.raises(
        AgentNotInstalled, match=r"amazon-cloudwatch-agent-ctl does not exist: .* not installed"
    ):
        apply_agent_config(config, config_path=target, ctl=tmp_path / "bin" / "amazon-cloudwatch-agent-ctl")
    assert not target.exists()


def test_a_hung_control_script_times_out(settings: NodeSettings, tmp_path: Path) -> None:
    ctl = stand_in_ctl(tmp_path, "exec sleep 30")
    config = render_agent_config(template_text(), settings.log_groups)
    with pytest.raises(LogShippingError, match=r"did not finish within 1s"):
        apply_agent_config(
            config,
            config_path=tmp_path / "agent.json",
            ctl=ctl,
            runner=functools.partial(run_command, timeout=1),
        )


# --- the bootstrap's step --------------------------------------------------------------------
def test_ship_logs_renders_the_installed_template_and_starts_the_agent(
    settings: NodeSettings, tmp_path: Path
) -> None:
    target = tmp_path / "agent.json"
    config = ship_logs(
        settings.log_groups, template_path=TEMPLATE, config_path=target, ctl=stand_in_ctl(tmp_path)
    )
    assert config.shipped == settings.log_groups
    assert target.read_text() == config.text
    assert recorded_argv(tmp_path)[-1] == f"file:{target}"


def test_ship_logs_with_no_group_leaves_the_agent_alone(tmp_path: Path) -> None:
    target = tmp_path / "agent.json"
    config = ship_logs({}, template_path=TEMPLATE, config_path=target, ctl=stand_in_ctl(tmp_path))
    assert config.shipped == {}
    assert not target.exists()
    assert not (tmp_path / "argv").exists()


def test_ship_logs_names_a_missing_template(settings: NodeSettings, tmp_path: Path) -> None:
    missing = tmp_path / "share" / "cloudwatch-agent.json"
    with pytest.raises(LogShippingError, match=rf"cannot read the CloudWatch agent template {missing}"):
        ship_logs(
            settings.log_groups,
            template_path=missing,
            config_path=tmp_path / "agent.json",
            ctl=stand_in_ctl(tmp_path),
        )


def test_ship_logs_off_the_ami_says_the_agent_is_missing_before_the_template(
    settings: NodeSettings, tmp_path: Path
) -> None:
    with pytest.raises(AgentNotInstalled, match="the CloudWatch agent is not installed"):
        ship_logs(
            settings.log_groups,
            template_path=tmp_path / "share" / "cloudwatch-agent.json",
            config_path=tmp_path / "agent.json",
            ctl=tmp_path / "bin" / "amazon-cloudwatch-agent-ctl",
        )
