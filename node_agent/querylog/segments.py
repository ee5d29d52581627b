"""The query-log spool's files: segments of framed records, and the acknowledgement cursor.

Layout: `segment-<seq>.log` files holding records framed as (length, crc32, payload), and
`cursor.json` naming the first unacknowledged byte. This module reads and writes them; when and
under which lock (fsyncs, cut-backs, roll-overs, acknowledgements) is the Spool's (spool.py).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The spool's own logger: what is logged here is the spool's reading of its files.
log = logging.getLogger("node_agent.querylog.spool")

HEADER = struct.Struct(">II")  # payload length, crc32 of the payload
SEGMENT_PREFIX = "segment-"
SEGMENT_SUFFIX = ".log"
CURSOR = "cursor.json"


@dataclass(frozen=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True)
class Record:
    payload: bytes
    end: Position  # acknowledging this position acknowledges this record and all before it


def framed(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def segment_path(directory: Path, seq: int) -> Path:
    return directory / f"{SEGMENT_PREFIX}{seq:012d}{SEGMENT_SUFFIX}"


def segment_sizes(directory: Path) -> dict[int, int]:
    """Each segment file's number and its length on disk."""
    sizes: dict[int, int] = {}
    for path in directory.glob(SEGMENT_PREFIX + "*" + SEGMENT_SUFFIX):
        seq = int(path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)])
        sizes[seq] = path.stat().st_size
    return sizes


def records_in(directory: Path, segment: int, start: int, end: int, *, active: bool) -> Iterator[Record]:
    """Records of one segment from `start` up to `end`, read as they are consumed: a reader
    that needs 500 records does not read and check a whole 8 MB segment."""
    path = segment_path(directory, segment)
    try:
        f = path.open("rb", buffering=256 * 1024)
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        pos = start
        while pos + HEADER.size <= end:
            length, crc = HEADER.unpack(f.read(HEADER.size))
            payload = f.read(length) if pos + HEADER.size + length <= end else b""
            if len(payload) < length or zlib.crc32(payload) != crc:
                if not active:
                    log.error(
                        "spool %s: segment %d is corrupt at offset %d; %d bytes after it are skipped",
                        directory,
                        segment,
                        pos,
                        end - pos,
                    )
                return
            pos += HEADER.size + length
            yield Record(payload=payload, end=Position(segment, pos))


def read_cursor(directory: Path, sizes: dict[int, int]) -> Position:
    """The first unacknowledged byte; the oldest segment's start when there is no cursor file."""
    path = directory / CURSOR
    try:
        raw = json.loads(path.read_text())
        return Position(int(raw["segment"]), int(raw["offset"]))
    except FileNotFoundError:
        return Position(min(sizes) if sizes else 1, 0)
    except (ValueError, KeyError, TypeError) as exc:
        # Resending from the oldest segment is safe (ids dedupe); losing events is not.
        log.error("spool %s: unreadable %s (%s); resending from the oldest segment", path, CURSOR, exc)
        return Position(min(sizes) if sizes else 1, 0)


def write_cursor(directory: Path, cursor: Position) -> None:
    """Replace the cursor file by a rename, without an fsync (see Spool.ack for why)."""
    path = directory / CURSOR
    tmp = path.with_suffix(".tmp")
    data = json.dumps({"segment": cursor.segment, "offset": cursor.offset}).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
