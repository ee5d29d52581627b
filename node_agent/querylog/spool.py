"""An append-only, bounded, crash-safe queue on disk between Trino and Elasticsearch.

Fsync policy: `append` returns only after an fsync of the segment file that covers its record, so
an event that was answered with 200 survives a crash of the agent or the machine. Concurrent
appends share fsyncs (group commit): an fsync covers everything written before it started, so a
writer whose record an fsync already in flight covers waits for that one; any other writer starts
its own at once instead of queueing behind the running one. Several fsyncs in flight are what a
disk or a cloud volume completes fastest (measured here: 4 writers, one fsync at a time ~400
durable appends/s; fsyncs overlapping ~2,300/s; bench/querylog.py). Readers only see what an fsync
has covered.

Each fsync in flight uses its own file description of the segment, opened before any record was
written to it: Linux reports a write-back error once per open file description, so an fsync
sharing one with a concurrent fsync that took the error would return success for pages that were
lost. A failed write or fsync (disk full, EIO) cuts the segment back to its last durable length
under the lock and raises SpoolWriteError for every append not yet durable (an fsync of the same
generation still in flight no longer counts), so no torn frame hides later records and no caller
is told its record is stored when it is not.

The acknowledgement cursor is replaced by a rename before any segment is deleted, without an
fsync: a crash can leave it older than it was (or unreadable, then the oldest segment is sent
again), so at worst events Elasticsearch already has are resent, which the query id as document
id makes harmless. `max_bytes` bounds what is not yet acknowledged; the acknowledged head of the
active segment stays on disk until the segment rolls over.

Layout: `segment-<seq>.log` files holding records framed as (length, crc32, payload), and
`cursor.json` naming the first unacknowledged byte (segments.py reads and writes them). A torn
record at the end of the newest segment (a crash in the middle of a write, never answered with
200) is cut off when the spool is opened.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from node_agent.durable import fsync_dir
from node_agent.querylog.segments import (
    HEADER,
    Position,
    Record,
    framed,
    read_cursor,
    records_in,
    segment_path,
    segment_sizes,
    write_all,
    write_cursor,
)

log = logging.getLogger(__name__)


class SpoolFull(Exception):
    """Appending would take the spool over its size limit; the record was not stored."""


class SpoolWriteError(Exception):
    """The disk refused the write or the fsync (full, EIO); the record was not stored."""


@dataclass(eq=False)
class _Pending:
    """One append written but not yet covered by an fsync."""

    end: int  # offset in the active segment just after the record
    done: bool = False
    error: OSError | None = None


@dataclass(eq=False)
class _Flight:
    """One fsync in flight: it covers the active segment up to `covers` once it returns."""

    covers: int
    generation: int  # a cut-back after a failed fsync starts a new one; older fsyncs count no more


class Spool:
    """Many concurrent writers; one reader (the sender thread) reads and acknowledges in order."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int = 8 * 1024 * 1024,
        max_fsyncs_in_flight: int = 8,
    ) -> None:
        if max_bytes <= HEADER.size:
            raise ValueError(f"spool max_bytes must be more than {HEADER.size}, got {max_bytes}")
        if segment_bytes <= 0:
            raise ValueError(f"spool segment_bytes must be positive, got {segment_bytes}")
        if max_fsyncs_in_flight < 1:
            raise ValueError(f"spool max_fsyncs_in_flight must be at least 1, got {max_fsyncs_in_flight}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.max_fsyncs_in_flight = max_fsyncs_in_flight
        self._lock = threading.Lock()
        self._synced = threading.Condition(self._lock)  # notified when an fsync finished
        self.has_data = threading.Event()  # set on append; the sender waits on it when idle
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sizes: dict[int, int] = {}  # durable (fsynced) length of each segment
        self._written = 0  # length of the active segment including records not yet fsynced
        self._unsynced: list[_Pending] = []  # in write order
        self._flights: list[_Flight] = []
        self._generation = 0
        self._sync_fds: list[int] = []  # free file descriptions of the active segment, for fsyncs
        self._broken: str | None = None  # why appends are refused until a restart
        self._cursor = Position(1, 0)
        self._pending_records = 0
        self._fd = -1
        self.fsyncs = 0  # how many fsyncs covered appends (group commit makes it < appends)
        self._open()

    # --- writer ------------------------------------------------------------------------------
    def append(self, payload: bytes) -> None:
        """Store one record durably (fsync) or raise SpoolFull / SpoolWriteError storing nothing."""
        frame = framed(payload)
        with self._lock:
            if self._broken:
                raise SpoolWriteError(self._broken)
            held = self.backlog_bytes + self._written - self._sizes[self._active]
            if held + len(frame) > self.max_bytes:
                raise SpoolFull(
                    f"spool {self.directory} holds {held} of {self.max_bytes} bytes not yet shipped; "
                    f"a record of {len(frame)} bytes does not fit"
                )
            if self._written >= self.segment_bytes:
                self._roll_over()
            start = self._written
            try:
                write_all(self._fd, frame)
            except OSError as exc:
                self._cut_back(start, exc)
                raise SpoolWriteError(f"spool {self.directory}: writing a record failed: {exc}") from exc
            pending = _Pending(end=start + len(frame))
            self._written = pending.end
            self._unsynced.append(pending)
            while not pending.done:
                covered = any(f.covers >= pending.end for f in self._flights)
                if covered or not self._sync_fds:
                    self._synced.wait()  # an fsync in flight covers it, or every slot is busy
                else:
                    self._fsync_written()
        if pending.error is not None:
            raise SpoolWriteError(f"spool {self.directory}: fsync failed: {pending.error}") from pending.error
        self.has_data.set()

    def _fsync_written(self) -> None:
        """fsync everything written so far, outside the lock, and settle what it covered.

        Called holding the lock; other writers write and start their own fsyncs meanwhile.
        """
        fd = self._sync_fds.pop()
        flight = _Flight(covers=self._written, generation=self._generation)
        active = self._active
        self._flights.append(flight)
        error: OSError | None = None
        self._lock.release()
        try:
            os.fsync(fd)
        except OSError as exc:
            error = exc
        finally:
            self._lock.acquire()
            self._flights.remove(flight)
            self._sync_fds.append(fd)
            self.fsyncs += 1
        if flight.generation == self._generation:
            if error is None:
                self._settle(active, flight.covers)
            else:
                self._fail_unsynced(active, error)
        self._synced.notify_all()

    def _settle(self, active: int, durable: int) -> None:
        """Records up to `durable` are on disk: readers may see them and their appends return."""
        if durable <= self._sizes[active]:
            return
        self._sizes[active] = durable
        settled = 0
        while self._unsynced and self._unsynced[0].end <= durable:
            self._unsynced.pop(0).done = True
            settled += 1
        self._pending_records += settled

    def _fail_unsynced(self, active: int, error: OSError) -> None:
        """After a failed fsync nothing past the last durable length can be trusted: cut it off
        and fail every append not yet durable, including those an fsync still in flight covers
        (it belongs to the old generation now and settles nothing)."""
        failed, self._unsynced = self._unsynced, []
        self._generation += 1
        self._cut_back(self._sizes[active], error)
        for pending in failed:
            pending.done, pending.error = True, error

    def _sync_all(self) -> None:
        """Wait for the fsyncs in flight, then make everything written durable (lock held)."""
        while self._flights:
            self._synced.wait()
        if not self._unsynced:
            return
        active = self._active
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._fail_unsynced(active, exc)
        else:
            self._settle(active, self._written)
        self.fsyncs += 1
        self._synced.notify_all()

    def _cut_back(self, length: int, cause: OSError) -> None:
        """Truncate the active segment to `length` after a failed write or fsync (lock held)."""
        log.error(
            "spool %s: write to segment %d failed (%s); cutting it back to %d bytes",
            self.directory,
            self._active,
            cause,
            length,
        )
        try:
            os.ftruncate(self._fd, length)
        except OSError as exc:
            # Bytes of a failed record stay at the end of the segment, and a record appended after
            # them would be hidden behind a torn frame: refuse appends (503, Trino resends) until
            # a restart, whose open cuts the torn tail off. What was stored before stays readable.
            self._broken = (
                f"spool {self.directory}: cutting segment {self._active} back after a failed write "
                f"failed too ({exc}); refusing events until the agent restarts"
            )
            log.error("%s", self._broken)
            return
        self._written = length
        try:
            os.fsync(self._fd)
        except OSError as exc:
            # The cut is in place for every reader and writer now; if a crash undid it, the open
            # cuts a torn tail or resends a complete record (harmless: ids are document ids).
            log.warning("spool %s: the cut-back is not yet durable: %s", self.directory, exc)

    def _roll_over(self) -> None:
        """Start the next segment once every record in the current one is durable (lock held)."""
        self._sync_all()
        self._start_segment(self._active + 1)

    # --- reader ------------------------------------------------------------------------------
    def read(self, max_records: int, max_bytes: int) -> list[Record]:
        """The oldest unacknowledged records, in order, without removing them."""
        with self._lock:
            cursor = self._cursor
            sizes = dict(self._sizes)
        active = max(sizes)
        records: list[Record] = []
        taken = 0
        for segment in sorted(s for s in sizes if s >= cursor.segment):
            start = cursor.offset if segment == cursor.segment else 0
            for record in records_in(
                self.directory, segment, start, sizes[segment], active=segment == active
            ):
                if records and (len(records) >= max_records or taken + len(record.payload) > max_bytes):
                    return records
                records.append(record)
                taken += len(record.payload)
        return records

    def ack(self, upto: Position, count: int) -> None:
        """Forget everything before `upto` (count records): the cursor is replaced, then whole
        segments before it are deleted.

        The cursor is renamed into place without an fsync: after a crash it can only be older
        than it was (or unreadable), which resends events Elasticsearch already has, never loses
        one, so the sender adds no journal commit per batch to the appends' fsyncs.
        """
        with self._lock:
            if upto <= self._cursor:
                return
            self._cursor = upto
            self._pending_records = max(0, self._pending_records - count)
            while (
                self._cursor.segment < self._active
                and self._cursor.offset >= self._sizes[self._cursor.segment]
            ):
                # The cursor sits at the end of a finished segment: move on so that one can go.
                self._cursor = Position(min(s for s in self._sizes if s > self._cursor.segment), 0)
            write_cursor(self.directory, self._cursor)
            for segment in [s for s in self._sizes if s < self._cursor.segment]:
                self._delete_segment(segment)
            if self._pending_records == 0:
                self.has_data.clear()

    # --- state ---------------------------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        """Bytes on disk in segments, acknowledged or not."""
        return sum(self._sizes.values())

    @property
    def backlog_bytes(self) -> int:
        """Bytes not yet acknowledged: what counts against max_bytes. The acknowledged head of
        the active segment stays on disk until the segment rolls over (segment_bytes at most)."""
        acknowledged = self._cursor.offset if self._cursor.segment in self._sizes else 0
        return self.size_bytes - acknowledged

    @property
    def pending_records(self) -> int:
        return self._pending_records

    def close(self) -> None:
        with self._lock:
            while self._flights:
                self._synced.wait()
            self._close_fds()

    # --- internals -----------------------------------------------------------------------------
    @property
    def _active(self) -> int:
        return max(self._sizes)

    def _open(self) -> None:
        self._sizes.update(segment_sizes(self.directory))
        self._cursor = read_cursor(self.directory, self._sizes)
        if not self._sizes:
            self._sizes[self._cursor.segment] = 0
            segment_path(self.directory, self._cursor.segment).touch()
        if self._cursor.segment not in self._sizes:
            later = [s for s in self._sizes if s > self._cursor.segment]
            self._cursor = Position(min(later) if later else self._active, 0)
        for segment in [s for s in self._sizes if s < self._cursor.segment]:
            self._delete_segment(segment)
        self._repair_tail()
        self._open_fds(self._active)
        self._written = self._sizes[self._active]
        self._pending_records = self._count_pending()
        if self._pending_records:
            log.info("spool %s: %d unacknowledged events to resend", self.directory, self._pending_records)
            self.has_data.set()

    def _count_pending(self) -> int:
        """Unacknowledged records, one segment in memory at a time (a backlog can be gigabytes)."""
        active, count = self._active, 0
        for segment in sorted(s for s in self._sizes if s >= self._cursor.segment):
            start = self._cursor.offset if segment == self._cursor.segment else 0
            count += sum(
                1
                for _ in records_in(
                    self.directory, segment, start, self._sizes[segment], active=segment == active
                )
            )
        return count

    def _repair_tail(self) -> None:
        """Cut a torn record off the newest segment (a write that crashed before its 200)."""
        active = self._active
        start = self._cursor.offset if active == self._cursor.segment else 0
        good = start
        for record in records_in(self.directory, active, start, self._sizes[active], active=True):
            good = record.end.offset
        if good < self._sizes[active]:
            log.warning(
                "spool %s: cutting %d bytes of a torn record off segment %d",
                self.directory,
                self._sizes[active] - good,
                active,
            )
            os.truncate(segment_path(self.directory, active), good)
            self._sizes[active] = good

    def _start_segment(self, seq: int) -> int:
        self._close_fds()
        self._open_fds(seq)
        self._sizes[seq] = 0
        self._written = 0
        fsync_dir(self.directory)
        return seq

    def _open_fds(self, seq: int) -> None:
        """The appending descriptor and one file description per fsync slot, all opened before
        anything is written through them (see the module docstring on write-back errors)."""
        path = segment_path(self.directory, seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._sync_fds = [os.open(path, os.O_WRONLY) for _ in range(self.max_fsyncs_in_flight)]

    def _close_fds(self) -> None:
        """Close the active segment's descriptors (no fsync in flight: the lock holder waited)."""
        for fd in [self._fd, *self._sync_fds]:
            if fd >= 0:
                os.close(fd)
        self._fd, self._sync_fds = -1, []

    def _delete_segment(self, seq: int) -> None:
        segment_path(self.directory, seq).unlink(missing_ok=True)
        self._sizes.pop(seq, None)
