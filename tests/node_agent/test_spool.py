"""The on-disk spool: order, acknowledgement, restart, torn writes and the size bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node_agent.spool import Spool, SpoolFull


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
    assert spool.size_bytes == 0
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
