"""The query-log listener and shipper without Elasticsearch.

Elasticsearch itself is in tests/integration/test_querylog.py. Here a stand-in bulk function
injects what a real cluster will not do on demand: refuse one document, ask to retry half a batch,
or vanish in the middle of a request.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from node_agent.querylog import command as querylog
from node_agent.querylog.command import QuerylogAgent, QuerylogConfig, Shipper
from node_agent.querylog.store.base import BulkOutcome, RequestRefused, bulk_entry, entry_document

DATA = Path(__file__).parent / "data" / "trino476"
EVENT = (DATA / "finished_lineitem_scan.json").read_bytes()


class StandInElasticsearch:
    """Records bulk requests; `script` says per call what to answer (default: all ok)."""

    def __init__(self) -> None:
        self.indexed: list[dict[str, Any]] = []
        self.script: list[Any] = []
        self.statuses: list[int] | None = None  # per-document statuses for the next answer
        self.calls = 0

    def __call__(self, entries: list[bytes]) -> BulkOutcome:
        docs = [entry_document(e) for e in entries]
        self.calls += 1
        answer = self.script.pop(0) if self.script else None
        if isinstance(answer, Exception):
            raise answer
        results = answer(docs) if answer else ["ok"] * len(docs)
        self.indexed.extend(d for d, r in zip(docs, results, strict=True) if r == "ok")
        reasons: list[str | None] = [None if r == "ok" else "scripted" for r in results]
        statuses, self.statuses = self.statuses, None
        return BulkOutcome(results=results, reasons=reasons, statuses=statuses)


def event(query_id: str, state: str = "FINISHED") -> bytes:
    raw = json.loads(EVENT)
    raw["metadata"]["queryId"] = query_id
    raw["metadata"]["queryState"] = state
    return json.dumps(raw).encode()


def config(tmp_path: Path, **overrides: Any) -> QuerylogConfig:
    values: dict[str, Any] = {
        "port": 0,
        "spool_dir": tmp_path / "spool",
        "backoff_initial_seconds": 0.05,
        "backoff_max_seconds": 0.2,
        # Shorter than the shipped 0.5 s only to keep these tests quick; the linger itself is
        # tested below, and the integration suite runs the agent with its defaults.
        "batch_linger_seconds": 0.05,
    }
    values.update(overrides)
    return QuerylogConfig(**values)


@pytest.fixture
def elasticsearch() -> StandInElasticsearch:
    return StandInElasticsearch()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[QuerylogAgent]:
    """The HTTP side alone: nothing ships, so the spool shows what was accepted."""
    agent = QuerylogAgent(
        config(tmp_path, max_body_bytes=200_000, spool_max_bytes=400_000), StandInElasticsearch()
    )
    agent._serve.start()
    yield agent
    agent.server.shutdown()
    agent.server.server_close()
    agent.spool.close()


def url(agent: QuerylogAgent, path: str = "/v1/query-completed") -> str:
    return f"http://127.0.0.1:{agent.port}{path}"


def spooled_ids(agent: QuerylogAgent) -> list[str]:
    return [entry_document(r.payload)["query_id"] for r in agent.spool.read(10_000, 10**9)]


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


# --- listener ----------------------------------------------------------------------------------
def test_a_completed_event_is_answered_200_and_spooled(listener: QuerylogAgent) -> None:
    response = requests.post(url(listener), data=event("q1"), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert spooled_ids(listener) == ["q1"]


def test_a_malformed_event_gets_400_naming_the_field_and_is_not_spooled(listener: QuerylogAgent) -> None:
    response = requests.post(url(listener), data=b'{"metadata": {}, "statistics": {}, "context": {}}')
    assert response.status_code == 400
    assert "metadata.queryId" in response.text
    assert spooled_ids(listener) == []


def test_an_oversized_request_gets_413_and_is_not_spooled(listener: QuerylogAgent) -> None:
    response = requests.post(url(listener), data=b"x" * 300_000)
    assert response.status_code == 413
    assert spooled_ids(listener) == []


def test_a_post_to_another_path_gets_404(listener: QuerylogAgent) -> None:
    assert requests.post(url(listener, "/v1/other"), data=event("q1")).status_code == 404
    assert spooled_ids(listener) == []


def test_bad_requests_do_not_affect_the_next_good_one(listener: QuerylogAgent) -> None:
    with requests.Session() as session:
        session.post(url(listener), data=b"not json")
        session.post(url(listener), data=b"x" * 300_000)
        assert session.post(url(listener), data=event("q2")).status_code == 200
    assert spooled_ids(listener) == ["q2"]


def test_a_full_spool_answers_503_counts_the_drop_and_keeps_what_it_had(tmp_path: Path) -> None:
    agent = QuerylogAgent(config(tmp_path, spool_max_bytes=20_000), StandInElasticsearch())
    agent._serve.start()  # nothing ships, so the spool fills
    try:
        statuses = [requests.post(url(agent), data=event(f"q{i}")).status_code for i in range(40)]
        assert statuses[0] == 200
        assert statuses[-1] == 503
        accepted = statuses.count(200)
        assert len(spooled_ids(agent)) == accepted
        metrics = requests.get(url(agent, "/metrics")).text
        assert f"trino_querylog_events_dropped_total {float(40 - accepted)}" in metrics
    finally:
        agent.server.shutdown()
        agent.server.server_close()
        agent.spool.close()


def test_the_metrics_page_counts_received_and_invalid_requests(listener: QuerylogAgent) -> None:
    requests.post(url(listener), data=event("q1"))
    requests.post(url(listener), data=b"{}")
    metrics = requests.get(url(listener, "/metrics")).text
    assert "trino_querylog_events_received_total 1.0" in metrics
    assert 'trino_querylog_requests_invalid_total{reason="malformed"} 1.0' in metrics


# --- shipper -----------------------------------------------------------------------------------
def test_shipped_events_are_acknowledged_and_leave_the_spool(tmp_path: Path, elasticsearch: Any) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    agent.start()
    try:
        for i in range(3):
            requests.post(url(agent), data=event(f"q{i}"))
        wait_for(lambda: agent.spool.pending_records == 0 and len(elasticsearch.indexed) == 3)
        assert [d["query_id"] for d in elasticsearch.indexed] == ["q0", "q1", "q2"]
    finally:
        agent.stop()


def test_an_event_is_spooled_as_its_bulk_entry_into_the_daily_index_of_its_end(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path, index_prefix="prod-queries"), elasticsearch)
    agent._serve.start()
    try:
        assert requests.post(url(agent), data=event("q1")).status_code == 200
        (record,) = agent.spool.read(10, 10**9)
        action, document, rest = record.payload.split(b"\n")
        assert json.loads(action) == {"index": {"_index": "prod-queries-2026.11.26", "_id": "q1"}}
        assert json.loads(document)["query_id"] == "q1"
        assert rest == b""
    finally:
        agent.server.shutdown()
        agent.server.server_close()
        agent.spool.close()


def test_documents_spooled_by_an_agent_before_bulk_entries_still_ship_after_an_upgrade(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    old = {"query_id": "q-old", "end_time": "2026-11-25T23:59:59.999Z", "state": "FINISHED"}
    agent.spool.append(json.dumps(old, separators=(",", ":")).encode())  # what the old agent spooled
    agent.spool.append(spool_doc("q-new"))
    shipped: list[bytes] = []
    shipper = Shipper(
        agent.spool, lambda e: (shipped.extend(e), elasticsearch(e))[1], agent.metrics, agent.config
    )
    shipper.ship_once()
    assert [d["query_id"] for d in elasticsearch.indexed] == ["q-old", "q-new"]
    assert json.loads(shipped[0].split(b"\n")[0]) == {
        "index": {"_index": "trino-queries-2026.11.25", "_id": "q-old"}
    }
    assert entry_document(shipped[0]) == old
    assert agent.spool.pending_records == 0
    agent.spool.close()


def test_while_elasticsearch_is_unreachable_events_stay_spooled_then_ship(
    tmp_path: Path, elasticsearch: Any
) -> None:
    elasticsearch.script = [ConnectionError("refused")] * 3
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    requests_before = agent.metrics
    agent.start()
    try:
        requests.post(url(agent), data=event("q1"))
        wait_for(lambda: len(elasticsearch.indexed) == 1)
        assert requests_before.bulk_errors._value.get() == 3
        assert agent.spool.pending_records == 0
    finally:
        agent.stop()


def test_only_the_prefix_before_a_retry_is_acknowledged(tmp_path: Path, elasticsearch: Any) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    for i in range(4):
        agent.spool.append(spool_doc(f"q{i}"))
    shipper = Shipper(agent.spool, elasticsearch, agent.metrics, agent.config)
    elasticsearch.script = [lambda docs: ["ok", "retry", "ok", "ok"]]
    shipper.ship_once()
    remaining = [entry_document(r.payload)["query_id"] for r in agent.spool.read(10, 10**9)]
    assert remaining == ["q1", "q2", "q3"]
    shipper.ship_once()
    assert agent.spool.pending_records == 0
    agent.spool.close()


def test_a_permanently_refused_event_is_set_aside_and_does_not_block_the_rest(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    for i in range(3):
        agent.spool.append(spool_doc(f"q{i}"))
    shipper = Shipper(agent.spool, elasticsearch, agent.metrics, agent.config)
    elasticsearch.script = [lambda docs: ["ok", "rejected", "ok"]]
    shipper.ship_once()
    assert agent.spool.pending_records == 0
    set_aside = [
        json.loads(line) for line in (agent.spool.directory / "rejected.jsonl").read_text().splitlines()
    ]
    assert [r["document"]["query_id"] for r in set_aside] == ["q1"]
    assert agent.metrics.rejected._value.get() == 1
    agent.spool.close()


def test_events_spooled_before_a_restart_are_shipped_after_it(tmp_path: Path, elasticsearch: Any) -> None:
    elasticsearch.script = [ConnectionError("down")] * 1000
    first = QuerylogAgent(config(tmp_path), elasticsearch)
    first.start()
    for i in range(3):
        assert requests.post(url(first), data=event(f"q{i}")).status_code == 200
    first.stop()
    assert elasticsearch.indexed == []

    elasticsearch.script = []
    second = QuerylogAgent(config(tmp_path), elasticsearch)
    second.start()
    try:
        wait_for(lambda: len(elasticsearch.indexed) == 3)
        assert sorted(d["query_id"] for d in elasticsearch.indexed) == ["q0", "q1", "q2"]
    finally:
        second.stop()


def test_the_template_is_put_before_the_first_document(tmp_path: Path, elasticsearch: Any) -> None:
    calls: list[str] = []
    agent = QuerylogAgent(
        config(tmp_path),
        lambda entries: (calls.append("bulk"), elasticsearch(entries))[1],
        prepare=lambda: calls.append("template"),
    )
    agent.start()
    try:
        requests.post(url(agent), data=event("q1"))
        wait_for(lambda: "bulk" in calls)
        assert calls[0] == "template"
    finally:
        agent.stop()


def test_the_store_is_reported_up_once_the_template_is_put_before_any_event(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    shipper = Shipper(agent.spool, elasticsearch, agent.metrics, agent.config)
    assert agent.metrics.es_up._value.get() == 0
    shipper.ship_once()  # nothing spooled: only the template put
    assert agent.metrics.es_up._value.get() == 1
    agent.spool.close()


def test_events_arriving_while_a_short_batch_lingers_go_out_in_the_same_request(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path, batch_linger_seconds=0.5), elasticsearch)
    agent.spool.append(spool_doc("q0"))
    shipper = Shipper(agent.spool, elasticsearch, agent.metrics, agent.config)
    later = threading.Timer(0.1, lambda: [agent.spool.append(spool_doc(f"q{i}")) for i in (1, 2)])
    later.start()
    shipper.ship_once()
    later.join()
    assert elasticsearch.calls == 1
    assert [d["query_id"] for d in elasticsearch.indexed] == ["q0", "q1", "q2"]
    agent.spool.close()


def test_without_elasticsearch_events_are_answered_and_nothing_is_kept(tmp_path: Path) -> None:
    agent = QuerylogAgent(config(tmp_path, discard=True), StandInElasticsearch())
    agent.start()
    try:
        assert requests.post(url(agent), data=event("q1")).status_code == 200
        assert requests.post(url(agent), data=b"{}").status_code == 400
        assert agent.spool.pending_records == 0
        assert agent.spool.size_bytes == 0
    finally:
        agent.stop()


# --- faults ------------------------------------------------------------------------------------
def spool_doc(query_id: str) -> bytes:
    return bulk_entry("trino-queries", {"query_id": query_id, "end_time": "2026-11-26T04:09:37.240Z"})


def test_a_failing_spool_write_is_answered_503_and_logged_not_a_closed_connection(
    listener: QuerylogAgent, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:  # stands in for a disk that answers EIO
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    response = requests.post(url(listener), data=event("q1"))
    assert response.status_code == 503
    assert "spool write failed" in response.text
    assert "query q1 not stored" in caplog.text
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert requests.post(url(listener), data=event("q2")).status_code == 200
    assert spooled_ids(listener) == ["q2"]


@pytest.mark.parametrize("value", [b"NaN", b"Infinity"])
def test_a_non_finite_count_is_answered_400_naming_the_field_not_a_closed_connection(
    listener: QuerylogAgent, value: bytes
) -> None:
    body = event("q1").replace(b'"outputBytes": ', b'"outputBytes": ' + value + b', "_was": ', 1)
    response = requests.post(url(listener), data=body)
    assert response.status_code == 400
    assert "statistics.outputBytes" in response.text
    assert spooled_ids(listener) == []


def test_an_unexpected_error_is_answered_500_and_logged(
    listener: QuerylogAgent, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(body: bytes) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(querylog, "parse_completed_event", broken)
    response = requests.post(url(listener), data=event("q1"))
    assert response.status_code == 500
    assert "unexpected error" in caplog.text


def test_a_query_id_too_long_for_a_document_id_is_refused_at_receipt_with_400(
    listener: QuerylogAgent,
) -> None:
    response = requests.post(url(listener), data=event("q" * 600))
    assert response.status_code == 400
    assert "metadata.queryId" in response.text
    assert spooled_ids(listener) == []


def test_per_item_auth_and_missing_index_refusals_are_retried_with_a_metric_not_set_aside(
    tmp_path: Path, elasticsearch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    for i in range(3):
        agent.spool.append(spool_doc(f"q{i}"))
    shipper = Shipper(agent.spool, elasticsearch, agent.metrics, agent.config)
    elasticsearch.script = [lambda docs: ["retry"] * len(docs)]
    elasticsearch.statuses = [403, 403, 404]
    shipper.ship_once()
    assert agent.spool.pending_records == 3
    assert not (agent.spool.directory / "rejected.jsonl").exists()
    assert agent.metrics.retried.labels(status="403")._value.get() == 2
    assert agent.metrics.retried.labels(status="404")._value.get() == 1
    assert "Check the Elasticsearch user and its role" in caplog.text
    agent.spool.close()


def test_a_whole_request_refusal_is_narrowed_to_the_offending_event_and_the_rest_ships(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path), elasticsearch)
    ids = [f"q{i}" for i in range(9)]
    ids[5] = "x" * 600  # spooled by an older agent that did not check ids at receipt
    for query_id in ids:
        agent.spool.append(spool_doc(query_id))
    shipper = Shipper(agent.spool, RefusesLongIds(elasticsearch), agent.metrics, agent.config)
    shipper.ship_once()
    assert agent.spool.pending_records == 0
    assert [d["query_id"] for d in elasticsearch.indexed] == [i for i in ids if len(i) < 512]
    set_aside = (agent.spool.directory / "rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["document"]["query_id"] for line in set_aside] == ["x" * 600]
    assert agent.metrics.es_up._value.get() == 1
    agent.spool.close()


class RefusesLongIds:
    """Refuses a whole bulk request holding an `_id` over 512 bytes, as Elasticsearch 8 does."""

    def __init__(self, inner: StandInElasticsearch) -> None:
        self.inner = inner

    def __call__(self, entries: list[bytes]) -> BulkOutcome:
        if any(len(entry_document(e)["query_id"]) > 512 for e in entries):
            raise RequestRefused(400, "action_request_validation_exception: id is too long")
        return self.inner(entries)


def test_a_failed_template_put_does_not_stop_shipping_and_is_retried_later(
    tmp_path: Path, elasticsearch: Any
) -> None:
    puts: list[float] = []

    def failing_put() -> None:
        puts.append(time.monotonic())
        raise ConnectionError("403 security_exception: no manage_index_templates")

    agent = QuerylogAgent(config(tmp_path, template_retry_seconds=0.3), elasticsearch, prepare=failing_put)
    agent.start()
    try:
        assert requests.post(url(agent), data=event("q1")).status_code == 200
        wait_for(lambda: len(elasticsearch.indexed) == 1)
        wait_for(lambda: len(puts) >= 2)
        assert agent.metrics.template_errors._value.get() >= 2
    finally:
        agent.stop()


def test_the_backlog_gauge_is_right_after_a_restart_while_the_store_is_down(
    tmp_path: Path, elasticsearch: Any
) -> None:
    first = QuerylogAgent(config(tmp_path), elasticsearch)
    for i in range(4):
        first.spool.append(spool_doc(f"q{i}"))
    first.spool.close()

    def unreachable() -> None:
        raise ConnectionError("connection refused")

    elasticsearch.script = [ConnectionError("connection refused")] * 1000
    second = QuerylogAgent(config(tmp_path), elasticsearch, prepare=unreachable)
    second.start()
    try:
        wait_for(lambda: elasticsearch.calls >= 1)
        metrics = requests.get(url(second, "/metrics")).text
        assert "trino_querylog_spool_events 4.0" in metrics
    finally:
        second.stop()


def test_the_rejected_file_is_bounded_keeping_one_older_generation(
    tmp_path: Path, elasticsearch: Any
) -> None:
    agent = QuerylogAgent(config(tmp_path, rejected_max_bytes=2000), elasticsearch)
    for i in range(40):
        agent.spool.append(spool_doc(f"q{i}"))
    shipper = Shipper(agent.spool, elasticsearch, agent.metrics, agent.config)
    elasticsearch.script = [lambda docs: ["rejected"] * len(docs)]
    shipper.ship_once()
    directory = agent.spool.directory
    assert (directory / "rejected.jsonl").stat().st_size <= 2000
    assert (directory / "rejected.jsonl.1").stat().st_size <= 2000
    last = json.loads((directory / "rejected.jsonl").read_text().splitlines()[-1])
    assert last["document"]["query_id"] == "q39"
    agent.spool.close()
