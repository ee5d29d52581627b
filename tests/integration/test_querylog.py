"""The query log end to end: real Trino 476 posting to the agent, a real store behind it.

Every test runs against both stores the harness can run: Elasticsearch 8.19 and OpenSearch 2.19
(one Trino for both: the agent for each store takes the same port in turn). The agent runs as its
own process (`python -m node_agent.querylog.command`), so "restart" here is a SIGKILL and a new process
on the same spool, the harshest way an agent stops.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.base import REPO_ROOT
from node_agent.contract import QUERYLOG_PATH, ElasticsearchSettings
from node_agent.querylog.command import QuerylogConfig, for_store
from node_agent.querylog.spool import Spool
from node_agent.querylog.store.base import open_store
from node_agent.trino.admin import TrinoError
from tools.harness.ports import free_port

pytestmark = pytest.mark.integration

REPO = REPO_ROOT
OK_QUERIES = [
    ("SELECT count(*) FROM tpch.tiny.orders", 15000),
    ("SELECT count(*) FROM tpch.tiny.nation", 25),
    ("SELECT count(*) FROM tpch.tiny.region", 5),
    ("SELECT count(*) FROM tpch.tiny.customer", 1500),
]
FAILING_QUERIES = [
    ("SELECT * FROM tpch.tiny.no_such_table", "TABLE_NOT_FOUND"),
    ("SELECT 1 / 0", "DIVISION_BY_ZERO"),
    ("SELEC 1", "SYNTAX_ERROR"),
]


STORES = ["elasticsearch", "opensearch"]  # the session fixtures (conftest.py) of each server


class QuerylogProcess:
    """`node-agent querylog` as a child process on a fixed port and spool directory."""

    def __init__(
        self,
        port: int,
        spool_dir: Path,
        es_url: str,
        prefix: str,
        log_path: Path,
        *,
        backend: str = "elasticsearch",
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.port, self.spool_dir, self.es_url, self.prefix, self.log_path = (
            port,
            spool_dir,
            es_url,
            prefix,
            log_path,
        )
        self.backend, self.extra_args, self.env = backend, extra_args, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "node_agent.querylog.command",
            f"--port={self.port}",
            f"--spool-dir={self.spool_dir}",
            f"--es-url={self.es_url}",
            f"--index-prefix={self.prefix}",
            f"--backend={self.backend}",
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=self.env or dict(os.environ)
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"querylog agent exited: {self.log_path.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        raise RuntimeError(f"querylog agent did not listen: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise AssertionError(f"{name} not on the query-log agent's metrics page")


@dataclass(frozen=True)
class Setup:
    cluster: Any
    agent: QuerylogProcess
    server: Any  # harness Elasticsearch or OpenSearch


@pytest.fixture(scope="module")
def querylog_cluster(trino_factory: Any) -> Iterator[tuple[Any, int]]:
    """One lone coordinator posting its events to a fixed port, whichever store's agent is there."""
    port = free_port()
    cluster = trino_factory.start_cluster(workers=0, include_coordinator=True, querylog_port=port)
    try:
        yield cluster, port
    finally:
        cluster.stop()


@pytest.fixture(scope="module", params=STORES)
def querylog_setup(
    request: pytest.FixtureRequest,
    querylog_cluster: tuple[Any, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    server = request.getfixturevalue(request.param)
    cluster, port = querylog_cluster
    base = tmp_path_factory.mktemp(f"querylog-{request.param}")
    agent = QuerylogProcess(
        port,
        base / "spool",
        server.url,
        f"it-queries-{uuid.uuid4().hex[:8]}",
        base / "agent.log",
        backend=request.param,
    )
    agent.start()
    try:
        yield Setup(cluster, agent, server)
    finally:
        agent.stop()


def run_mixed(cluster: Any, user: str) -> dict[str, str]:
    """Run every OK and failing query as `user`; query id -> the state the client saw."""
    seen: dict[str, str] = {}
    for sql, expected in OK_QUERIES:
        result = cluster.query(sql, user=user)
        assert result.rows == [[expected]]
        seen[result.query_id] = "FINISHED"
    for sql, _ in FAILING_QUERIES:
        with pytest.raises(TrinoError) as failure:
            cluster.query(sql, user=user)
        match = re.search(r"query (\S+) failed", str(failure.value))
        assert match, str(failure.value)
        seen[match.group(1)] = "FAILED"
    return seen


def documents(server: Any, prefix: str, user: str) -> list[dict[str, Any]]:
    lenient = "ignore_unavailable=true&allow_no_indices=true"
    server.request("POST", f"/{prefix}-*/_refresh?{lenient}")
    found = server.request(
        "POST", f"/{prefix}-*/_search?{lenient}", {"query": {"term": {"user": user}}, "size": 1000}
    )
    return [{"_id": hit["_id"], **hit["_source"]} for hit in found["hits"]["hits"]]


def wait_for_documents(
    server: Any, prefix: str, user: str, count: int, timeout: float = 90.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    docs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            docs = documents(server, prefix, user)
        except urllib.error.HTTPError as exc:  # 503: a just-created index has no started shard yet
            if exc.code != 503:
                raise
        if len(docs) >= count:
            time.sleep(2)  # anything extra (a duplicate) would have arrived with the rest
            return documents(server, prefix, user)
        time.sleep(0.5)
    raise AssertionError(f"{len(docs)} of {count} documents for {user} after {timeout}s")


def test_every_query_becomes_exactly_one_document_with_its_state_and_stats(querylog_setup: Setup) -> None:
    cluster, agent, server = querylog_setup.cluster, querylog_setup.agent, querylog_setup.server
    user = f"it-{uuid.uuid4().hex[:8]}"
    seen = run_mixed(cluster, user)

    docs = wait_for_documents(server, agent.prefix, user, len(seen))
    assert len(docs) == len(seen) == len(OK_QUERIES) + len(FAILING_QUERIES)
    assert {d["query_id"]: d["state"] for d in docs} == seen
    assert all(d["_id"] == d["query_id"] for d in docs)
    by_query = {d["query"]: d for d in docs}
    orders = by_query["SELECT count(*) FROM tpch.tiny.orders"]
    assert orders["processed_input_rows"] == 15000
    assert orders["input_catalogs"] == ["tpch"]
    assert orders["wall_time_seconds"] > 0
    assert "error_name" not in orders
    assert by_query["SELECT 1 / 0"]["error_name"] == "DIVISION_BY_ZERO"
    assert by_query["SELECT * FROM tpch.tiny.no_such_table"]["error_type"] == "USER_ERROR"


def test_the_index_template_makes_state_error_and_times_aggregatable(querylog_setup: Setup) -> None:
    cluster, agent, server = querylog_setup.cluster, querylog_setup.agent, querylog_setup.server
    user = f"it-{uuid.uuid4().hex[:8]}"
    run_mixed(cluster, user)
    wait_for_documents(server, agent.prefix, user, len(OK_QUERIES) + len(FAILING_QUERIES))
    aggs = {
        "state": {"terms": {"field": "state"}},
        "error": {"terms": {"field": "error_name"}},
        "catalog": {"terms": {"field": "input_catalogs"}},
        "wall": {"sum": {"field": "wall_time_seconds"}},
        "rows": {"sum": {"field": "processed_input_rows"}},
    }
    answer = server.request(
        "POST", f"/{agent.prefix}-*/_search", {"size": 0, "query": {"term": {"user": user}}, "aggs": aggs}
    )["aggregations"]
    assert {b["key"]: b["doc_count"] for b in answer["state"]["buckets"]} == {
        "FINISHED": len(OK_QUERIES),
        "FAILED": len(FAILING_QUERIES),
    }
    assert {b["key"] for b in answer["error"]["buckets"]} == {name for _, name in FAILING_QUERIES}
    assert {b["key"] for b in answer["catalog"]["buckets"]} == {"tpch"}
    assert answer["wall"]["value"] > 0
    assert answer["rows"]["value"] >= sum(rows for _, rows in OK_QUERIES)


def test_nothing_is_lost_or_duplicated_across_a_store_outage_and_an_agent_crash(
    querylog_setup: Setup,
) -> None:
    cluster, agent, server = querylog_setup.cluster, querylog_setup.agent, querylog_setup.server
    user = f"it-{uuid.uuid4().hex[:8]}"
    before = run_mixed(cluster, user)
    wait_for_documents(server, agent.prefix, user, len(before))

    server.stop()
    try:
        during = run_mixed(cluster, user)
        deadline = time.monotonic() + 60
        while agent.metric("trino_querylog_spool_events") < len(during) and time.monotonic() < deadline:
            time.sleep(0.5)
        # At least: Trino also resends events it could not deliver before the agent listened (the
        # cluster's readiness queries), and they may land in this window. That nothing is lost or
        # duplicated is what the documents below show.
        assert agent.metric("trino_querylog_spool_events") >= len(during)
        agent.kill()
        agent.start()
    finally:
        server.start()

    docs = wait_for_documents(server, agent.prefix, user, len(before) + len(during), timeout=180)
    assert len(docs) == len(before) + len(during)
    assert {d["query_id"]: d["state"] for d in docs} == {**before, **during}


def test_a_malformed_post_is_refused_and_the_agent_keeps_accepting(querylog_setup: Setup) -> None:
    cluster, agent, server = querylog_setup.cluster, querylog_setup.agent, querylog_setup.server
    request = urllib.request.Request(
        f"http://127.0.0.1:{agent.port}{QUERYLOG_PATH}", data=b'{"metadata": 1}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400

    user = f"it-{uuid.uuid4().hex[:8]}"
    result = cluster.query("SELECT count(*) FROM tpch.tiny.supplier", user=user)
    docs = wait_for_documents(server, agent.prefix, user, 1)
    assert [d["query_id"] for d in docs] == [result.query_id]


def test_a_query_near_trinos_text_limit_arrives_far_below_the_agents_body_cap(querylog_setup: Setup) -> None:
    """Trino never resends an event refused with 413. The output stage's JSON, which Trino lets
    reach 16 MB, is rendered down to 1kB; what is left grows with the query text (query, plan,
    JSON plan), bounded by query.max-length (1M characters)."""
    if querylog_setup.agent.backend != STORES[0]:
        pytest.skip("the event Trino posts does not depend on the store; one run is enough")
    cluster, agent, server = querylog_setup.cluster, querylog_setup.agent, querylog_setup.server
    user = f"it-{uuid.uuid4().hex[:8]}"
    values = ",".join(str(i) for i in range(60_000))
    sql = f"SELECT count(*) FROM (VALUES {values}) AS t(x)"
    received_before = agent.metric("trino_querylog_received_bytes_total")
    assert cluster.query(sql, user=user).rows == [[60_000]]
    docs = wait_for_documents(server, agent.prefix, user, 1)
    body = agent.metric("trino_querylog_received_bytes_total") - received_before
    assert docs[0]["query"] == sql
    assert len(sql) < body < QuerylogConfig().max_body_bytes / 8


# --- refusals by a real Elasticsearch (no Trino: the spool is filled directly) --------------------
def spool_documents(spool_dir: Path, query_ids: list[str]) -> None:
    spool = Spool(spool_dir, max_bytes=10**8)
    for query_id in query_ids:
        doc = {"query_id": query_id, "state": "FINISHED", "end_time": "2026-11-26T04:09:37.240Z"}
        spool.append(json.dumps(doc).encode())
    spool.close()


def indexed_ids(es: Any, prefix: str) -> set[str]:
    client = es.client()
    client.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    found = client.search(index=f"{prefix}-*", size=100, ignore_unavailable=True, allow_no_indices=True)
    return {hit["_id"] for hit in found["hits"]["hits"]}


def test_an_id_elasticsearch_refuses_for_the_whole_request_is_set_aside_and_the_rest_ships(
    elasticsearch: Any, tmp_path: Path
) -> None:
    """An over-long id refuses the whole bulk (400 action_request_validation_exception); such an
    event can sit in a spool written by an agent that did not check ids at receipt."""
    prefix = f"it-refused-{uuid.uuid4().hex[:8]}"
    ids = [f"ok-{i}" for i in range(7)]
    ids.insert(4, "x" * 600)
    spool_documents(tmp_path / "spool", ids)
    config = QuerylogConfig(port=0, spool_dir=tmp_path / "spool")
    agent = for_store(
        config, open_store(ElasticsearchSettings(url=elasticsearch.url, index_prefix=prefix), None)
    )
    try:
        assert agent.shipper.ship_once()
        assert agent.spool.pending_records == 0
        assert indexed_ids(elasticsearch, prefix) == {i for i in ids if len(i) < 512}
        set_aside = (tmp_path / "spool" / "rejected.jsonl").read_text().splitlines()
        assert [json.loads(line)["document"]["query_id"] for line in set_aside] == ["x" * 600]
        assert "action_request_validation_exception" in set_aside[0]
    finally:
        agent.server.server_close()
        agent.spool.close()


def test_a_missing_index_is_retried_with_a_metric_and_ships_once_it_can_be_created(
    elasticsearch: Any, tmp_path: Path
) -> None:
    """With index auto-creation off, every item gets 404 index_not_found_exception: the events
    must wait in the spool (not go to the rejected file) until an operator fixes it."""
    prefix = f"it-noindex-{uuid.uuid4().hex[:8]}"
    spool_documents(tmp_path / "spool", ["a", "b"])
    config = QuerylogConfig(port=0, spool_dir=tmp_path / "spool", backoff_initial_seconds=0.01)
    agent = for_store(
        config, open_store(ElasticsearchSettings(url=elasticsearch.url, index_prefix=prefix), None)
    )
    client = elasticsearch.client()
    client.cluster.put_settings(persistent={"action.auto_create_index": "false"})
    try:
        assert not agent.shipper.ship_once()
        assert agent.spool.pending_records == 2
        assert not (tmp_path / "spool" / "rejected.jsonl").exists()
        assert agent.metrics.retried.labels(status="404")._value.get() == 2
    finally:
        client.cluster.put_settings(persistent={"action.auto_create_index": None})
    try:
        assert agent.shipper.ship_once()
        assert indexed_ids(elasticsearch, prefix) == {"a", "b"}
    finally:
        agent.server.server_close()
        agent.spool.close()
