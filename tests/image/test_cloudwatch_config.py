"""The CloudWatch agent's file list on the image: exactly the log files the program's log groups expect."""

from __future__ import annotations

import json

from node_agent.contract import LogFile
from tests.image.image_install import IMAGE

TEMPLATE = IMAGE / "files" / "cloudwatch-agent.json"


def collect_list() -> list[dict[str, str]]:
    return json.loads(TEMPLATE.read_text())["logs"]["logs_collected"]["files"]["collect_list"]


def test_every_contract_log_file_is_shipped_once() -> None:
    paths = [entry["file_path"] for entry in collect_list()]
    assert sorted(paths) == sorted(log.value for log in LogFile)


def test_each_file_names_its_log_group_placeholder_for_the_bootstrap() -> None:
    # The bootstrap replaces LOG_GROUP_<LogFile name> with settings.log_groups[<LogFile name>].
    for entry in collect_list():
        assert entry["log_group_name"] == f"LOG_GROUP_{LogFile(entry['file_path']).name}"


def test_each_instance_writes_its_own_stream() -> None:
    assert {entry["log_stream_name"] for entry in collect_list()} == {"{instance_id}"}


def test_template_names_no_cluster() -> None:
    text = TEMPLATE.read_text()
    groups = {entry["log_group_name"] for entry in collect_list()}
    assert all(group.startswith("LOG_GROUP_") for group in groups)
    assert "arn:" not in text
