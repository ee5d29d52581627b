"""Durable writes shared by the agent's commands: a file replaced in one rename, and the
directory fsync that makes a create or rename survive a power cut.

rename(2) is atomic but not durable: until the directory itself is fsynced, a crash can bring back
the old name or none. Every state the agent keeps across a crash (the drain record, the query-log
spool, Trino's etc/ generations, the CloudWatch agent's file list) goes through these two.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make the entries of `directory` (creates, renames, unlinks) survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data` in one rename(2), durable before it is visible.

    A crash at any point leaves either the old file or the new one whole, never a half-written
    one; a failed write leaves no temporary file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)  # mkstemp makes 0600, whatever the caller needs
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
