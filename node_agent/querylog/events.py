"""Turn one QueryCompletedEvent from Trino's HTTP event listener into the document we index.

The listener posts the whole SPI event (often 100 KB or more: plan, JSON plan, operator
summaries, the full query info as `payload`). Elasticsearch gets a flat document with the fields
people search and aggregate on, in base units (seconds, bytes), and the spool stores that document,
not the raw event, so a backlog costs a fraction of the disk.

Shapes confirmed against a captured Trino 476 event: durations are JSON numbers of seconds with
millisecond precision (`"wallTime": 2.414`), instants are ISO-8601 UTC strings
(`"2026-11-26T04:09:37.235Z"`), the state is `metadata.queryState`, and `failureInfo` is absent
for a query that succeeded. ISO-8601 durations (`PT2.414S`) and airlift duration strings
(`2.41s`) are accepted too, so a Jackson or version change does not lose the event.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

QUERY_STATES = ("FINISHED", "FAILED")  # the only states a QueryCompletedEvent can carry

# The query id becomes the document `_id`: Elasticsearch and OpenSearch refuse the whole bulk
# request for an `_id` over 512 bytes, so such an event is refused at receipt instead. Trino's ids
# (20261126_040937_00001_abcde) use far fewer characters than this allows.
MAX_QUERY_ID_LENGTH = 512
QUERY_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_QUERY_ID_LENGTH - 1}}}")

# statistics.<camelCase> -> document field (seconds)
DURATION_FIELDS = {
    "wallTime": "wall_time_seconds",
    "cpuTime": "cpu_time_seconds",
    "queuedTime": "queued_time_seconds",
    "scheduledTime": "scheduled_time_seconds",
    "resourceWaitingTime": "resource_waiting_time_seconds",
    "analysisTime": "analysis_time_seconds",
    "planningTime": "planning_time_seconds",
    "executionTime": "execution_time_seconds",
    "failedCpuTime": "failed_cpu_time_seconds",
}

# statistics.<camelCase> -> document field (integers: bytes, rows, splits)
COUNT_FIELDS = {
    "peakUserMemoryBytes": "peak_user_memory_bytes",
    "peakTaskTotalMemory": "peak_task_total_memory_bytes",
    "physicalInputBytes": "physical_input_bytes",
    "physicalInputRows": "physical_input_rows",
    "processedInputBytes": "processed_input_bytes",
    "processedInputRows": "processed_input_rows",
    "internalNetworkBytes": "internal_network_bytes",
    "outputBytes": "output_bytes",
    "outputRows": "output_rows",
    "writtenBytes": "written_bytes",
    "writtenRows": "written_rows",
    "spilledBytes": "spilled_bytes",
    "completedSplits": "completed_splits",
}

# context.<camelCase> -> document field (strings)
CONTEXT_FIELDS = {
    "user": "user",
    "principal": "principal",
    "source": "source",
    "catalog": "catalog",
    "schema": "schema",
    "remoteClientAddress": "remote_client_address",
    "userAgent": "user_agent",
    "queryType": "query_type",
    "serverAddress": "server_address",
    "serverVersion": "server_version",
    "environment": "environment",
    "retryPolicy": "retry_policy",
}

_AIRLIFT_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ns|us|ms|s|m|h|d)\s*$")
_AIRLIFT_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ISO_DURATION = re.compile(
    r"^(-)?P(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?(?:([0-9.]+)S)?)?$", re.IGNORECASE
)


class EventError(ValueError):
    """The request body is not a usable QueryCompletedEvent; the message says which field and why."""


def parse_duration(value: Any, name: str = "duration") -> float:
    """Seconds from any duration encoding Trino has used: number, ISO-8601, or airlift string."""
    if isinstance(value, bool):
        raise EventError(f"{name}: expected a duration, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_from_text(value.strip(), name)
    else:
        raise EventError(f"{name}: expected a duration (seconds, PT..S or 1.5s), got {type(value).__name__}")
    if not math.isfinite(seconds) or seconds < 0:
        raise EventError(f"{name}: duration must be a finite number of seconds >= 0, got {value!r}")
    return seconds


def _duration_from_text(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    match = _AIRLIFT_DURATION.match(text)
    if match:
        return float(match.group(1)) * _AIRLIFT_UNITS[match.group(2)]
    match = _ISO_DURATION.match(text)
    if match and any(match.group(i) for i in range(2, 6)):
        days, hours, minutes, secs = (float(match.group(i) or 0) for i in range(2, 6))
        total = days * 86400 + hours * 3600 + minutes * 60 + secs
        return -total if match.group(1) else total
    raise EventError(f"{name}: {text!r} is not a duration (allowed: 1.234, PT1.234S, 1.23s)")


def parse_instant(value: Any, name: str) -> str:
    """Normalise an ISO-8601 instant to UTC with millisecond precision (what Elasticsearch stores)."""
    if not isinstance(value, str):
        raise EventError(f"{name}: expected an ISO-8601 timestamp string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EventError(f"{name}: {value!r} is not an ISO-8601 timestamp") from exc
    if moment.tzinfo is None:
        raise EventError(f"{name}: {value!r} has no time zone (Trino sends UTC with a Z)")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_completed_event(body: bytes) -> dict[str, Any]:
    """The document for one QueryCompletedEvent; raises EventError naming the first bad field."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError(f"body is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise EventError("body must be a JSON object (a QueryCompletedEvent)")
    metadata = _object(event, "metadata")
    statistics = _object(event, "statistics")
    context = _object(event, "context")

    query_id = metadata.get("queryId")
    if not isinstance(query_id, str) or not QUERY_ID.fullmatch(query_id):
        raise EventError(
            f"metadata.queryId: {_preview(query_id)} is not a query id "
            f"(allowed: 1 to {MAX_QUERY_ID_LENGTH} of A-Z a-z 0-9 _ . : -, as Trino's ids are)"
        )
    state = metadata.get("queryState")
    if state not in QUERY_STATES:
        allowed = ", ".join(QUERY_STATES)
        raise EventError(f"metadata.queryState: {state!r} is not a completed state (allowed: {allowed})")

    doc: dict[str, Any] = {
        "query_id": query_id,
        "state": state,
        "query": _text(metadata.get("query"), "metadata.query"),
        "update_type": _text(metadata.get("updateType"), "metadata.updateType"),
        "create_time": parse_instant(event.get("createTime"), "createTime"),
        "end_time": parse_instant(event.get("endTime"), "endTime"),
    }
    if event.get("executionStartTime") is not None:
        doc["execution_start_time"] = parse_instant(event["executionStartTime"], "executionStartTime")
    for key, field in DURATION_FIELDS.items():
        if statistics.get(key) is not None:
            doc[field] = parse_duration(statistics[key], f"statistics.{key}")
    for key, field in COUNT_FIELDS.items():
        if statistics.get(key) is not None:
            doc[field] = _count(statistics[key], f"statistics.{key}")
    if statistics.get("cumulativeMemory") is not None:
        doc["cumulative_memory_byte_seconds"] = _number(statistics["cumulativeMemory"], "cumulativeMemory")
    for key, field in CONTEXT_FIELDS.items():
        if context.get(key) is not None:
            doc[field] = _text(context[key], f"context.{key}")
    doc["client_tags"] = _texts(context.get("clientTags"), "context.clientTags")
    doc["resource_group"] = (
        ".".join(_texts(context.get("resourceGroupId"), "context.resourceGroupId")) or None
    )
    doc.update(_io_fields(event.get("ioMetadata")))
    failure = event.get("failureInfo")
    if failure is not None:
        doc.update(_failure_fields(failure))
    return {k: v for k, v in doc.items() if v is not None}


def index_name(prefix: str, end_time: str) -> str:
    """Daily index from the query's end time, not the arrival time.

    A resend hours later must land in the same index as the first attempt: `_id` only prevents
    duplicates within one index.
    """
    day = datetime.fromisoformat(end_time.replace("Z", "+00:00")).astimezone(UTC)
    return f"{prefix}-{day:%Y.%m.%d}"


def _io_fields(io: Any) -> dict[str, Any]:
    if not isinstance(io, dict):
        return {}
    catalogs: list[str] = []
    tables: list[str] = []
    for i, item in enumerate(io.get("inputs") or []):
        if isinstance(item, dict) and item.get("catalogName"):
            catalog, table = _table(item, f"ioMetadata.inputs[{i}]")
            catalogs.append(catalog)
            tables.append(table)
    fields: dict[str, Any] = {"input_catalogs": sorted(set(catalogs)), "input_tables": sorted(set(tables))}
    output = io.get("output")
    if isinstance(output, dict) and output.get("catalogName"):
        fields["output_table"] = _table(output, "ioMetadata.output")[1]
    return fields


def _table(item: dict[str, Any], name: str) -> tuple[str, str]:
    """(catalog, catalog.schema.table) of an ioMetadata entry."""
    parts = [_text(item.get(key), f"{name}.{key}") for key in ("catalogName", "schema", "table")]
    return str(parts[0]), ".".join(str(p) for p in parts)


def _failure_fields(failure: Any) -> dict[str, Any]:
    if not isinstance(failure, dict):
        raise EventError("failureInfo: expected an object")
    code = failure.get("errorCode") or {}
    if not isinstance(code, dict):
        raise EventError("failureInfo.errorCode: expected an object {code, name, type}")
    error_code = code.get("code")
    if error_code is not None and (isinstance(error_code, bool) or not isinstance(error_code, int)):
        raise EventError(f"failureInfo.errorCode.code: expected an integer, got {_preview(error_code)}")
    return {
        "error_code": error_code,
        "error_name": _text(code.get("name"), "failureInfo.errorCode.name"),
        "error_type": _text(code.get("type"), "failureInfo.errorCode.type"),
        "failure_type": _text(failure.get("failureType"), "failureInfo.failureType"),
        "failure_message": _text(failure.get("failureMessage"), "failureInfo.failureMessage"),
        "failure_host": _text(failure.get("failureHost"), "failureInfo.failureHost"),
    }


def _object(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    if not isinstance(value, dict):
        raise EventError(f"{key}: required, an object (is this a QueryCompletedEvent?)")
    return value


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise EventError(f"{name}: expected a finite non-negative number, got {_preview(value)}")
    return int(value)


def _number(value: Any, name: str) -> float | None:
    """A float, or None for NaN / infinity, which JSON in Elasticsearch cannot hold."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(f"{name}: expected a number, got {value!r}")
    return float(value) if math.isfinite(value) else None


def _text(value: Any, name: str) -> str | None:
    """A string field; a number is written as text, an object or a list is refused (no Python repr)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(f"{name}: expected a string, got {type(value).__name__} {_preview(value)}")
    return json.dumps(value)


def _texts(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise EventError(f"{name}: expected a list of strings, got {type(value).__name__}")
    return [t for i, item in enumerate(value) if (t := _text(item, f"{name}[{i}]")) is not None]


def _preview(value: Any) -> str:
    """The offending value for an error message, cut short: a body can be megabytes."""
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
