"""docs/configuration.md is exactly what the generator prints from the config-key table."""

from __future__ import annotations

import dataclasses

from components.settings.keys import KEYS
from tools import docs


def test_the_committed_configuration_reference_matches_the_generator() -> None:
    assert docs.TARGET.read_text() == docs.render(), f"docs/configuration.md is stale: run {docs.COMMAND}"


def test_a_changed_key_doc_changes_the_reference() -> None:
    changed = (dataclasses.replace(KEYS[0], doc="Something else entirely."), *KEYS[1:])
    assert "Something else entirely." in docs.render(changed)
    assert docs.render(changed) != docs.render()


def test_a_pipe_in_a_value_does_not_split_its_cell() -> None:
    key = dataclasses.replace(KEYS[0], allowed="a | b")
    assert docs.row(key).count(" | ") == 5


def test_check_fails_and_names_the_command_when_the_file_is_stale(tmp_path, monkeypatch, capsys) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text("old\n")
    monkeypatch.setattr(docs, "TARGET", stale)
    monkeypatch.setattr(docs, "REPO_ROOT", tmp_path)
    assert docs.main(["--check"]) == 1
    assert docs.COMMAND in capsys.readouterr().err
    assert stale.read_text() == "old\n"


def test_a_run_writes_the_reference_that_check_then_accepts(tmp_path, monkeypatch) -> None:
    target = tmp_path / "docs" / "configuration.md"
    monkeypatch.setattr(docs, "TARGET", target)
    monkeypatch.setattr(docs, "REPO_ROOT", tmp_path)
    assert docs.main([]) == 0
    assert target.read_text() == docs.render()
    assert docs.main(["--check"]) == 0
