"""Durable replacement: the old file or the new one, whole, and the rename survives a crash."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from node_agent import durable
from node_agent.durable import replace_file


def test_the_new_content_replaces_the_old(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    replace_file(target, b"new", 0o644)
    assert target.read_text() == "new"


def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    replace_file(target, b"x", 0o600)
    assert target.read_bytes() == b"x"


def test_the_file_gets_the_mode_asked_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        replace_file(tmp_path / "agent.json", b"{}", 0o644)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "agent.json").stat().st_mode) == 0o644


def test_a_write_that_fails_at_the_fsync_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    def fsync_fails(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(durable.os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="Input/output"):
        replace_file(target, b"new", 0o644)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_full_disk_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd: int, mode: str) -> None:
            self.handle = real_fdopen(fd, mode)

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durable.os, "fdopen", FullDisk)
    with pytest.raises(OSError, match="No space"):
        replace_file(target, b"new", 0o644)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_the_directory_is_fsynced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src: str, dst: Path) -> None:
        steps.append("rename")
        real_replace(src, dst)

    def fsync(fd: int) -> None:
        steps.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    monkeypatch.setattr(durable.os, "replace", replace)
    monkeypatch.setattr(durable.os, "fsync", fsync)
    replace_file(tmp_path / "state.json", b"x", 0o644)
    assert steps == ["fsync file", "rename", "fsync dir"]
