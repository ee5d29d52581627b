"""Writing etc/: all or nothing, and the same render twice changes nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from node_agent import etc_writer as writer_module
from node_agent.etc_writer import is_complete, write_atomically
from node_agent.render import RenderError

FILES = {"config.properties": "coordinator=false\n", "catalog/tpch.properties": "connector.name=tpch\n"}


def read_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root.resolve())): p.read_text()
        for p in root.resolve().rglob("*")
        if p.is_file() and p.name != ".rendered"
    }


def test_writes_every_file_under_etc(tmp_path: Path) -> None:
    write_atomically(FILES, tmp_path / "etc")
    assert read_tree(tmp_path / "etc") == FILES
    assert is_complete(tmp_path / "etc")


def test_files_are_not_readable_by_everyone(tmp_path: Path) -> None:
    write_atomically({"config.properties": "internal-communication.shared-secret=x\n"}, tmp_path / "etc")
    mode = (tmp_path / "etc" / "config.properties").stat().st_mode
    assert not mode & stat.S_IROTH


def test_directories_let_the_trino_group_in_but_not_everyone(tmp_path: Path) -> None:
    write_atomically({"secrets/keystore.pem": "pem\n", "catalog/tpch.properties": "x\n"}, tmp_path / "etc")
    for directory in (tmp_path / "etc", tmp_path / "etc" / "secrets", tmp_path / "etc" / "catalog"):
        mode = stat.S_IMODE(directory.resolve().stat().st_mode)
        assert mode == 0o750, (directory, oct(mode))


def test_writing_the_same_files_twice_changes_nothing(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    write_atomically(FILES, etc)
    target = os.readlink(etc)
    mtime = (etc / "config.properties").stat().st_mtime_ns
    write_atomically(dict(FILES), etc)
    assert os.readlink(etc) == target
    assert (etc / "config.properties").stat().st_mtime_ns == mtime


def test_a_new_render_replaces_the_old_one_completely(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    write_atomically(FILES, etc)
    write_atomically({"config.properties": "coordinator=true\n"}, etc)
    assert read_tree(etc) == {"config.properties": "coordinator=true\n"}
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".etc.")]
    assert len(leftovers) == 1


def test_a_failed_write_leaves_the_previous_render_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    write_atomically(FILES, etc)
    real_write = writer_module._write_file

    def disk_full_on_catalog(path: Path, content: str) -> None:
        if path.name == "tpch.properties":
            raise OSError(28, "No space left on device")
        real_write(path, content)

    monkeypatch.setattr(writer_module, "_write_file", disk_full_on_catalog)
    with pytest.raises(OSError, match="No space left"):
        write_atomically({"config.properties": "new\n", "catalog/tpch.properties": "x\n"}, etc)
    assert read_tree(etc) == FILES
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_an_image_default_directory_is_moved_aside(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "jvm.config").write_text("-Xmx16G\n")
    write_atomically(FILES, etc)
    assert etc.is_symlink()
    assert read_tree(etc) == FILES
    assert (tmp_path / "etc.pre-render" / "jvm.config").read_text() == "-Xmx16G\n"


def test_a_tampered_render_is_not_complete(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    write_atomically(FILES, etc)
    (etc / "config.properties").chmod(0o644)
    (etc / "config.properties").write_text("coordinator=true\n")
    assert not is_complete(etc)


def test_a_missing_etc_is_not_complete(tmp_path: Path) -> None:
    assert not is_complete(tmp_path / "etc")


def test_paths_outside_etc_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="outside"):
        write_atomically({"../escape": "x"}, tmp_path / "etc")
