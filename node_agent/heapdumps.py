"""`node-agent heapdumps`: keep Trino's heap dumps bounded, run before every Trino start.

Trino's JVM dumps its heap on OutOfMemoryError and exits (ExitOnOutOfMemoryError); systemd then
restarts it. With a directory as -XX:HeapDumpPath every crash adds a java_pid<N>.hprof as large as
the heap, so a server that keeps running out of memory fills the root volume, which also holds
spill and the query-log spool. Instead the JVM writes one file, HEAP_DUMP, and refuses to write
over an existing one ("Unable to create ...: File exists", checked on a real JVM in
tests/node_agent/test_heapdumps.py). Before each start this command moves that dump to PREVIOUS
(replacing the one before), so the next crash can dump again, and removes the java_pid*.hprof
files of older releases. At most two dumps ever exist: the newest crash's and the one before it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from node_agent.contract import TRINO_DATA

HEAP_DUMP = "heapdump.hprof"
PREVIOUS = "heapdump.previous.hprof"
LEGACY_PATTERN = "java_pid*.hprof"  # the JVM's own names when HeapDumpPath is a directory


def heap_dump_path(data_dir: Path) -> Path:
    """Where the rendered jvm.config tells the JVM to write its one heap dump."""
    return data_dir / "var" / HEAP_DUMP


def make_room(data_dir: Path) -> list[str]:
    """Keep the newest dump as PREVIOUS, delete older ones; returns what it did, one line each."""
    var = data_dir / "var"
    done: list[str] = []
    for legacy in sorted(var.glob(LEGACY_PATTERN)):
        legacy.unlink(missing_ok=True)
        done.append(f"deleted {legacy.name} (an unbounded dump name of an older release)")
    newest = var / HEAP_DUMP
    if newest.exists():
        os.replace(newest, var / PREVIOUS)
        done.append(f"kept the last heap dump as {PREVIOUS}, replacing the one before")
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="node-agent heapdumps", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(TRINO_DATA))
    args = parser.parse_args(argv)
    try:
        done = make_room(args.data_dir)
    except OSError as exc:
        # Never a reason not to start Trino; the unit also ignores the exit status ("-").
        print(json.dumps({"component": "heapdumps", "event": "error", "message": str(exc)}), file=sys.stderr)
        return 1
    for message in done:
        print(json.dumps({"component": "heapdumps", "event": "rotated", "message": message}))
    return 0
