"""Parsing QueryCompletedEvents: the fixtures under data/trino476 were captured from a real Trino 476
(HTTP event listener, log-completed) with only `metadata.payload` (the full query info) removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node_agent.querylog.events import EventError, index_name, parse_completed_event, parse_duration

DATA = Path(__file__).parent / "data" / "trino476"


def captured(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def parse(event: dict[str, Any]) -> dict[str, Any]:
    return parse_completed_event(json.dumps(event).encode())


def test_finished_query_carries_state_user_times_and_volumes() -> None:
    doc = parse(captured("finished_lineitem_scan"))
    assert doc["query_id"] == "20261126_040937_00003_niyfk"
    assert doc["state"] == "FINISHED"
    assert doc["user"] == "presto-on-aws-agent"
    assert doc["wall_time_seconds"] == pytest.approx(2.414)
    assert doc["cpu_time_seconds"] == pytest.approx(2.543)
    assert doc["queued_time_seconds"] == pytest.approx(0.001)
    assert doc["processed_input_rows"] == 6001215
    assert doc["processed_input_bytes"] == 54010935
    assert doc["peak_user_memory_bytes"] == 2622122
    assert doc["output_rows"] == 1


def test_finished_query_has_no_error_fields() -> None:
    doc = parse(captured("finished_nation_count"))
    assert not {"error_name", "error_type", "error_code", "failure_message"} & doc.keys()


def test_failed_query_carries_error_name_type_and_message() -> None:
    doc = parse(captured("failed_table_not_found"))
    assert doc["state"] == "FAILED"
    assert doc["error_name"] == "TABLE_NOT_FOUND"
    assert doc["error_type"] == "USER_ERROR"
    assert doc["error_code"] == 46
    assert "does not exist" in doc["failure_message"]


def test_catalogs_come_from_the_tables_read_when_the_session_has_no_catalog() -> None:
    doc = parse(captured("finished_lineitem_scan"))
    assert "catalog" not in doc
    assert doc["input_catalogs"] == ["tpch"]
    assert doc["input_tables"] == ["tpch.sf1.lineitem"]


def test_captured_timestamps_are_kept_as_utc_milliseconds() -> None:
    doc = parse(captured("failed_division_by_zero"))
    assert doc["create_time"] == "2026-11-26T04:09:37.498Z"


def test_finer_timestamps_are_cut_to_milliseconds() -> None:
    event = captured("finished_nation_count")
    event["createTime"] = "2026-11-26T04:09:37.498765432Z"[:26] + "Z"
    assert parse(event)["create_time"] == "2026-11-26T04:09:37.498Z"


def test_timestamps_with_an_offset_are_converted_to_utc() -> None:
    event = captured("finished_nation_count")
    event["endTime"] = "2026-11-26T05:00:00.5+01:00"
    assert parse(event)["end_time"] == "2026-11-26T04:00:00.500Z"


def test_the_large_plan_and_operator_details_are_not_indexed() -> None:
    doc = parse(captured("finished_lineitem_scan"))
    assert len(json.dumps(doc)) < 3000
    assert "plan" not in doc and "operator_summaries" not in doc


@pytest.mark.parametrize(
    ("encoded", "seconds"),
    [(2.414, 2.414), (0, 0.0), ("1.5", 1.5), ("PT2.414S", 2.414), ("PT1M30S", 90.0), ("3.52m", 211.2)],
)
def test_durations_are_read_in_every_encoding_trino_has_used(encoded: Any, seconds: float) -> None:
    assert parse_duration(encoded) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["soon", -1, True, None, "PT"])
def test_a_bad_duration_is_refused_with_its_name(bad: Any) -> None:
    with pytest.raises(EventError, match=r"statistics\.wallTime"):
        parse_duration(bad, "statistics.wallTime")


def test_a_query_created_event_is_refused_because_it_has_no_statistics() -> None:
    event = captured("finished_nation_count")
    created = {k: event[k] for k in ("createTime", "context", "metadata")}
    with pytest.raises(EventError, match="statistics"):
        parse(created)


def test_a_running_state_is_refused_naming_the_allowed_states() -> None:
    event = captured("finished_nation_count")
    event["metadata"]["queryState"] = "RUNNING"
    with pytest.raises(EventError, match=r"queryState.*FINISHED, FAILED"):
        parse(event)


def test_an_event_without_query_id_is_refused() -> None:
    event = captured("finished_nation_count")
    del event["metadata"]["queryId"]
    with pytest.raises(EventError, match=r"metadata\.queryId"):
        parse(event)


def test_a_timestamp_without_zone_is_refused() -> None:
    event = captured("finished_nation_count")
    event["endTime"] = "2026-11-26T04:09:37"
    with pytest.raises(EventError, match="endTime"):
        parse(event)


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(EventError):
        parse_completed_event(body)


def test_a_negative_byte_count_is_refused() -> None:
    event = captured("finished_nation_count")
    event["statistics"]["outputBytes"] = -5
    with pytest.raises(EventError, match="outputBytes"):
        parse(event)


def test_daily_index_follows_the_query_end_time_not_the_arrival_time() -> None:
    assert index_name("trino-queries", "2026-11-26T23:59:59.999Z") == "trino-queries-2026.11.26"
    assert index_name("trino-queries", "2026-11-27T00:00:00.000Z") == "trino-queries-2026.11.27"


@pytest.mark.parametrize("query_id", ["q" * 513, "a/b", "id with space", "_leading", "ü-umlaut", ""])
def test_a_query_id_elasticsearch_would_refuse_as_a_document_id_is_refused_at_receipt(query_id: str) -> None:
    event = captured("finished_nation_count")
    event["metadata"]["queryId"] = query_id
    with pytest.raises(EventError, match=r"metadata\.queryId.*allowed: 1 to 512"):
        parse(event)


def test_a_512_character_query_id_is_accepted() -> None:
    event = captured("finished_nation_count")
    event["metadata"]["queryId"] = "q" * 512
    assert parse(event)["query_id"] == "q" * 512


@pytest.mark.parametrize("count", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_a_non_finite_count_is_refused_naming_the_field(count: bytes) -> None:
    body = json.dumps(captured("finished_nation_count")).encode()
    body = body.replace(b'"outputBytes": ', b'"outputBytes": ' + count + b', "_was": ', 1)
    with pytest.raises(EventError, match=r"statistics\.outputBytes: expected a finite"):
        parse_completed_event(body)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("context", "user"), {"name": "alice"}),
        (("context", "source"), ["cli"]),
        (("metadata", "query"), {"sql": "SELECT 1"}),
        (("context", "clientTags"), [{"tag": 1}]),
    ],
)
def test_an_object_where_a_string_belongs_is_refused_not_stored_as_its_repr(
    path: tuple[str, str], value: Any
) -> None:
    event = captured("finished_nation_count")
    event[path[0]][path[1]] = value
    with pytest.raises(EventError, match=rf"{path[0]}\.{path[1]}.*expected a string"):
        parse(event)


def test_a_number_where_a_string_belongs_is_kept_as_its_text() -> None:
    event = captured("finished_nation_count")
    event["context"]["source"] = 42
    assert parse(event)["source"] == "42"
