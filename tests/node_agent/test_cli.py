"""`node-agent <command>` dispatch."""

from __future__ import annotations

import pytest

from node_agent import cli


def test_without_a_command_it_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "bootstrap" in capsys.readouterr().out


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("bootstrap", "lifecycle", "metrics", "querylog"):
        assert command in out


def test_an_unknown_command_names_the_allowed_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["drain"]) == 2
    assert "allowed: bootstrap, lifecycle, metrics, querylog" in capsys.readouterr().err


def test_a_command_gets_the_remaining_arguments(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bootstrap", "--check", "--etc-dir", f"{tmp_path}/etc"]) == 2
    assert "not a complete render" in capsys.readouterr().err


def test_every_command_module_has_a_main() -> None:
    import importlib

    for command in cli.COMMANDS.values():
        assert callable(importlib.import_module(command.module).main)
