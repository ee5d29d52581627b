"""Heap dumps stay bounded: the rendered JVM flags and the rotation before each start, on a real JVM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from node_agent import render
from node_agent.contract import Role
from node_agent.heapdumps import HEAP_DUMP, PREVIOUS, heap_dump_path, make_room
from tests.node_agent.sample_settings import sample_node_settings
from tools.harness.trino_node import TrinoStartError, java_home

# Allocates until the heap is gone: the JVM dumps it and exits, as Trino does on OutOfMemoryError.
OUT_OF_MEMORY = """
public class Oom {
    public static void main(String[] args) {
        java.util.List<long[]> hold = new java.util.ArrayList<>();
        while (true) hold.add(new long[1 << 20]);
    }
}
"""


def rendered_dump_flags(data_dir: Path) -> list[str]:
    """The heap-dump flags of the jvm.config a worker renders, with this data dir."""
    settings = sample_node_settings()
    facts = render.NodeFacts("i-1", "r6i.xlarge", "10.0.1.17", "eu-west-1a", memory_bytes=32 * 2**30)
    files = render.render(
        settings, facts, Role.WORKER, render.Layout(data_dir=data_dir), render.Secrets(shared_secret="s")
    )
    return [flag for flag in files["jvm.config"].splitlines() if "OutOfMemory" in flag or "HeapDump" in flag]


def crash_out_of_memory(source: Path, flags: list[str]) -> None:
    java = str(java_home() / "bin" / "java")
    result = subprocess.run(
        [java, "-Xmx32m", *flags, str(source)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stdout + result.stderr  # ExitOnOutOfMemoryError


def test_the_rendered_heap_dump_path_is_one_file_in_the_data_dir(tmp_path: Path) -> None:
    flags = rendered_dump_flags(tmp_path)
    assert f"-XX:HeapDumpPath={tmp_path / 'var' / HEAP_DUMP}" in flags
    assert "-XX:+HeapDumpOnOutOfMemoryError" in flags


def test_heap_dumps_of_a_server_that_keeps_running_out_of_memory_stay_bounded(tmp_path: Path) -> None:
    try:
        java_home()
    except TrinoStartError as exc:
        pytest.skip(str(exc))
    (tmp_path / "var").mkdir()
    source = tmp_path / "Oom.java"
    source.write_text(OUT_OF_MEMORY)
    flags = rendered_dump_flags(tmp_path)
    for _ in range(3):  # systemd's restarts, each preceded by the unit's `node-agent heapdumps`
        make_room(tmp_path)
        crash_out_of_memory(source, flags)
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == [HEAP_DUMP, PREVIOUS]


def test_the_newest_dump_is_kept_and_the_one_before_replaced(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    heap_dump_path(tmp_path).write_bytes(b"second crash")
    (tmp_path / "var" / PREVIOUS).write_bytes(b"first crash")
    make_room(tmp_path)
    assert (tmp_path / "var" / PREVIOUS).read_bytes() == b"second crash"
    assert not heap_dump_path(tmp_path).exists()


def test_dumps_named_by_pid_from_older_releases_are_deleted(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    for pid in (101, 202):
        (tmp_path / "var" / f"java_pid{pid}.hprof").write_bytes(b"x")
    (tmp_path / "var" / "server.log").write_text("kept")
    done = make_room(tmp_path)
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["server.log"]
    assert len(done) == 2


def test_nothing_to_do_on_a_fresh_node(tmp_path: Path) -> None:
    assert make_room(tmp_path) == []
