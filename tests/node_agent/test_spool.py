"""The on-disk spool: order, acknowledgement, restart, torn writes and the size bound."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from components.base import REPO_ROOT
from node_agent.querylog.spool import Spool, SpoolFull, SpoolWriteError


def payloads(spool: Spool, limit: int = 1000) -> list[bytes]:
    return [r.payload for r in spool.read(max_records=limit, max_bytes=10**9)]


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("segment-*.log"))


def test_records_come_back_in_append_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for i in range(5):
        spool.append(f"event-{i}".encode())
    assert payloads(spool) == [f"event-{i}".encode() for i in range(5)]


def test_reading_does_not_remove_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"a")
    payloads(spool)
    assert payloads(spool) == [b"a"]


def test_acknowledged_records_are_not_read_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for name in (b"a", b"b", b"c"):
        spool.append(name)
    first_two = spool.read(max_records=2, max_bytes=10**9)
    spool.ack(first_two[-1].end, len(first_two))
    assert payloads(spool) == [b"c"]
    assert spool.pending_records == 1


def test_unacknowledged_records_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for name in (b"a", b"b", b"c"):
        spool.append(name)
    batch = spool.read(max_records=1, max_bytes=10**9)
    spool.ack(batch[-1].end, 1)
    spool.close()  # the process dies here; nothing else is flushed

    reopened = Spool(tmp_path, max_bytes=10**6)
    assert payloads(reopened) == [b"b", b"c"]
    assert reopened.pending_records == 2
    assert reopened.has_data.is_set()


def test_a_torn_record_at_the_tail_is_cut_off_on_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"complete")
    spool.close()
    with segments(tmp_path)[-1].open("ab") as f:
        f.write(b"\x00\x00\x01\x00half-written")  # a crash in the middle of the next append

    reopened = Spool(tmp_path, max_bytes=10**6)
    assert payloads(reopened) == [b"complete"]
    reopened.append(b"after")
    assert payloads(reopened) == [b"complete", b"after"]


def test_a_record_with_a_wrong_checksum_is_not_returned(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"good")
    spool.append(b"flipped")
    spool.close()
    path = segments(tmp_path)[-1]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert payloads(Spool(tmp_path, max_bytes=10**6)) == [b"good"]


def test_a_full_spool_refuses_new_records_and_keeps_the_old_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(b"x" * 40)
    with pytest.raises(SpoolFull, match="does not fit"):
        spool.append(b"y" * 60)
    assert payloads(spool) == [b"x" * 40]


def test_acknowledging_everything_frees_the_space(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(b"x" * 80)
    batch = spool.read(max_records=10, max_bytes=10**9)
    spool.ack(batch[-1].end, len(batch))
    assert spool.backlog_bytes == 0
    spool.append(b"y" * 80)
    assert payloads(spool) == [b"y" * 80]


def test_segments_roll_over_and_acknowledged_ones_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=40)  # one 48-byte record each
    for i in range(6):
        spool.append(f"{i:040d}".encode())
    assert len(segments(tmp_path)) == 6
    batch = spool.read(max_records=4, max_bytes=10**9)
    spool.ack(batch[-1].end, len(batch))
    assert len(segments(tmp_path)) == 2
    assert [int(p) for p in payloads(spool)] == [4, 5]


def test_reads_cross_segment_boundaries_in_order_after_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=30)
    for i in range(5):
        spool.append(f"{i:025d}".encode())
    spool.close()
    assert [int(p) for p in payloads(Spool(tmp_path, max_bytes=10**6, segment_bytes=30))] == [0, 1, 2, 3, 4]


def test_a_batch_stops_at_the_byte_limit_but_always_holds_one_record(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for _ in range(3):
        spool.append(b"z" * 100)
    assert len(spool.read(max_records=10, max_bytes=250)) == 2
    assert len(spool.read(max_records=10, max_bytes=10)) == 1


def test_acknowledging_a_whole_segment_persists_a_cursor_past_it_and_deletes_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=10)  # one record per segment
    for name in (b"first-record", b"second-record"):
        spool.append(name)
    first, second = spool.read(max_records=2, max_bytes=10**9)
    spool.ack(first.end, 1)
    cursor = json.loads((tmp_path / "cursor.json").read_text())
    assert cursor == {"segment": second.end.segment, "offset": 0}
    assert [p.name for p in segments(tmp_path)] == [f"segment-{second.end.segment:012d}.log"]


def test_an_unreadable_cursor_resends_from_the_oldest_record(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"a")
    spool.append(b"b")
    batch = spool.read(max_records=1, max_bytes=10**9)
    spool.ack(batch[-1].end, 1)
    spool.close()
    (tmp_path / "cursor.json").write_text("{broken")
    assert payloads(Spool(tmp_path, max_bytes=10**6)) == [b"a", b"b"]


def test_a_stale_acknowledgement_does_not_move_the_cursor_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for name in (b"a", b"b", b"c"):
        spool.append(name)
    batch = spool.read(max_records=3, max_bytes=10**9)
    spool.ack(batch[1].end, 2)
    spool.ack(batch[0].end, 1)
    assert payloads(spool) == [b"c"]


def test_a_size_limit_too_small_for_any_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        Spool(tmp_path, max_bytes=4)


def test_a_crash_between_cursor_write_and_segment_delete_does_not_resend(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=10)  # one record per segment
    for name in (b"first-record", b"second-record"):
        spool.append(name)
    first_segment = segments(tmp_path)[0]
    kept = first_segment.read_bytes()
    first, _ = spool.read(max_records=2, max_bytes=10**9)
    spool.ack(first.end, 1)
    spool.close()
    first_segment.write_bytes(kept)  # as if the process died before deleting it

    reopened = Spool(tmp_path, max_bytes=10**6, segment_bytes=10)
    assert payloads(reopened) == [b"second-record"]
    assert not first_segment.exists()


def test_the_backlog_is_counted_again_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=30)
    for i in range(7):
        spool.append(f"{i:020d}".encode())
    batch = spool.read(max_records=2, max_bytes=10**9)
    spool.ack(batch[-1].end, 2)
    spool.close()
    assert Spool(tmp_path, max_bytes=10**6, segment_bytes=30).pending_records == 5


# --- disk faults -------------------------------------------------------------------------------
DISK_FULL_SCRIPT = """
import json, resource, signal, sys
from pathlib import Path
from node_agent.querylog.spool import Spool, SpoolWriteError

directory, limit = Path(sys.argv[1]), int(sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
spool = Spool(directory, max_bytes=10**9)
answers = {}
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
for i in range(6):
    try:
        spool.append(b"%03d" % i + b"." * 297)
        answers[i] = 200
    except SpoolWriteError:
        answers[i] = 503
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # the operator freed space
for i in range(6, 8):
    spool.append(b"%03d" % i + b"." * 297)
    answers[i] = 200
print(json.dumps(answers))
"""


def test_a_write_that_fails_on_a_full_disk_is_cut_back_and_later_records_survive(tmp_path: Path) -> None:
    """A real short write and EFBIG under RLIMIT_FSIZE (the file-size limit stands in for a full disk)."""
    import subprocess
    import sys

    repo = REPO_ROOT
    limit = 3 * 308 + 100  # three 308-byte frames fit; the fourth is written in part, then refused
    done = subprocess.run(
        [sys.executable, "-c", DISK_FULL_SCRIPT, str(tmp_path), str(limit)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    answers = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    assert answers == {0: 200, 1: 200, 2: 200, 3: 503, 4: 503, 5: 503, 6: 200, 7: 200}
    reopened = Spool(tmp_path, max_bytes=10**9)
    assert [int(p[:3]) for p in payloads(reopened)] == [i for i, status in answers.items() if status == 200]


class FailingFsync:
    """Stands in for a disk whose fsync reports EIO once (a real EIO cannot be caused on demand)."""

    def __init__(self, real: Any, fail_calls: set[int]) -> None:
        self.real, self.fail_calls, self.calls = real, fail_calls, 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.calls in self.fail_calls:
            raise OSError(errno.EIO, "Input/output error")
        self.real(fd)


def test_a_failed_fsync_refuses_the_record_and_cuts_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"before")
    fsync = FailingFsync(os.fsync, fail_calls={1})
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SpoolWriteError, match="fsync failed"):
        spool.append(b"lost")
    spool.append(b"after")
    assert payloads(spool) == [b"before", b"after"]
    assert spool.pending_records == 2
    spool.close()
    monkeypatch.undo()
    assert payloads(Spool(tmp_path, max_bytes=10**6)) == [b"before", b"after"]


class SlowFsync:
    """Stands in for a disk whose fsync takes 5 ms (tmpfs and page-cache fsyncs are near instant)."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        time.sleep(0.005)
        self.real(fd)


def test_concurrent_appends_share_an_fsync_and_each_returns_only_once_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two fsync slots for eight writers: those arriving while both are busy share the next fsync.
    spool = Spool(tmp_path, max_bytes=10**8, max_fsyncs_in_flight=2)
    fsync = SlowFsync(os.fsync)
    monkeypatch.setattr(os, "fsync", fsync)
    durable_when_answered: list[bool] = []

    def writer(n: int) -> None:
        for i in range(25):
            payload = f"{n}-{i}".encode()
            spool.append(payload)
            durable_when_answered.append(payload in payloads(spool, limit=10**6))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(durable_when_answered)
    assert len(payloads(spool, limit=10**6)) == 200
    assert fsync.calls < 100  # one fsync per append would be 200


class OverlapFsync:
    """Stands in for a disk whose first fsync returns only once a second one has started (or 5 s
    passed): it tells whether the spool lets an fsync start while another is in flight."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls, self.fds = real, 0, set[int]()
        self.second_started = threading.Event()

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.fds.add(fd)
        if self.calls == 1:
            self.second_started.wait(5)
        else:
            self.second_started.set()
        self.real(fd)


def append_while_an_fsync_is_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Spool, OverlapFsync, float]:
    """Append "first", and "second" while first's fsync is in flight; seconds the second took."""
    spool = Spool(tmp_path, max_bytes=10**6)
    fsync = OverlapFsync(os.fsync)
    monkeypatch.setattr(os, "fsync", fsync)
    first = threading.Thread(target=spool.append, args=(b"first",))
    first.start()
    while fsync.calls == 0:
        time.sleep(0.001)
    started = time.monotonic()
    spool.append(b"second")
    first.join()
    return spool, fsync, time.monotonic() - started


def test_an_append_does_not_queue_behind_an_fsync_that_started_before_its_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The throughput cap of one fsync at a time: a disk completes overlapping fsyncs far faster
    (bench/querylog.py), so a record no fsync in flight covers gets its own fsync at once."""
    spool, fsync, seconds = append_while_an_fsync_is_in_flight(tmp_path, monkeypatch)
    assert fsync.second_started.is_set() and seconds < 4
    assert payloads(spool) == [b"first", b"second"]


def test_overlapping_fsyncs_each_use_their_own_file_description(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a write-back error once per open file description: two fsyncs in flight on
    one description would let the second return success for pages the first was told were lost."""
    _, fsync, _ = append_while_an_fsync_is_in_flight(tmp_path, monkeypatch)
    one, two = sorted(fsync.fds)
    os.lseek(one, 3, os.SEEK_SET)  # a dup() would share this offset; a separate open() does not
    assert os.lseek(two, 0, os.SEEK_CUR) != 3
    assert os.fstat(one).st_ino == os.fstat(two).st_ino  # the same segment


class GatedFsync:
    """Stands in for a disk whose fsyncs return when the test says, each failing or not."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.entered: list[threading.Event] = [threading.Event() for _ in range(2)]
        self.release: list[tuple[threading.Event, list[bool]]] = [
            (threading.Event(), [False]) for _ in range(2)
        ]
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        with self.lock:
            n, self.calls = self.calls, self.calls + 1
        if n >= 2:
            self.real(fd)
            return
        self.entered[n].set()
        gate, fail = self.release[n]
        gate.wait(5)
        if fail[0]:
            raise OSError(errno.EIO, "Input/output error")
        self.real(fd)

    def finish(self, n: int, *, fail: bool) -> None:
        gate, flag = self.release[n]
        flag[0] = fail
        gate.set()


def test_a_failed_fsync_fails_an_append_a_concurrent_fsync_would_have_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsync 1 (record a) fails while fsync 2 (records a and b) is in flight and later succeeds:
    both records are cut off and both appends fail; fsync 2's success confirms nothing."""
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"before")
    fsync = GatedFsync(os.fsync)
    monkeypatch.setattr(os, "fsync", fsync)
    errors: dict[bytes, BaseException | None] = {}

    def append(payload: bytes) -> None:
        try:
            spool.append(payload)
            errors[payload] = None
        except SpoolWriteError as exc:
            errors[payload] = exc

    a = threading.Thread(target=append, args=(b"a",))
    a.start()
    assert fsync.entered[0].wait(5)
    b = threading.Thread(target=append, args=(b"b",))
    b.start()
    assert fsync.entered[1].wait(5)
    fsync.finish(0, fail=True)
    a.join(5)
    fsync.finish(1, fail=False)
    b.join(5)
    assert isinstance(errors[b"a"], SpoolWriteError) and isinstance(errors[b"b"], SpoolWriteError)
    assert payloads(spool) == [b"before"]
    spool.append(b"after")
    spool.close()
    monkeypatch.undo()
    assert payloads(Spool(tmp_path, max_bytes=10**6)) == [b"before", b"after"]


def test_segments_rolling_over_under_overlapping_fsyncs_keep_every_answered_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A roll-over closes the segment's descriptors: it waits for the fsyncs in flight on them,
    so no append is answered from a closed (or reused) descriptor and none is lost."""
    spool = Spool(tmp_path, max_bytes=10**8, segment_bytes=2000)
    monkeypatch.setattr(os, "fsync", SlowFsync(os.fsync))
    answered: list[bytes] = []

    def writer(n: int) -> None:
        for i in range(20):
            payload = f"{n}-{i:02d}-".encode() + b"." * 90
            spool.append(payload)
            answered.append(payload)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spool.close()
    monkeypatch.undo()
    assert len(segments(tmp_path)) >= 5
    stored = payloads(Spool(tmp_path, max_bytes=10**8), limit=10**6)
    assert sorted(stored) == sorted(answered) and len(stored) == 120
    for n in range(6):  # each writer's records in its own order
        mine = [p for p in stored if p.startswith(f"{n}-".encode())]
        assert mine == sorted(mine)


def test_acknowledging_adds_no_fsync_to_the_ones_appends_wait_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    for i in range(3):
        spool.append(b"%d" % i)
    fsync = SlowFsync(os.fsync)
    monkeypatch.setattr(os, "fsync", fsync)
    batch = spool.read(max_records=10, max_bytes=10**9)
    spool.ack(batch[-1].end, len(batch))
    assert fsync.calls == 0


def test_when_cutting_back_a_failed_write_fails_too_appends_are_refused_until_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(b"before")
    real_write = os.write

    def half_write(fd: int, data: Any) -> int:  # stands in for a disk that fills mid-record
        real_write(fd, bytes(data)[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    def failing_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "write", half_write)
    monkeypatch.setattr(os, "ftruncate", failing_truncate)
    with pytest.raises(SpoolWriteError, match="writing a record failed"):
        spool.append(b"torn")
    monkeypatch.undo()
    with pytest.raises(SpoolWriteError, match="until the agent restarts"):
        spool.append(b"after")
    assert payloads(spool) == [b"before"]
    spool.close()

    reopened = Spool(tmp_path, max_bytes=10**6)
    reopened.append(b"after")
    assert payloads(reopened) == [b"before", b"after"]
