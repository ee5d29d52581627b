"""Per-store behaviour of the query-log agent against real servers, without Trino: events are
POSTed to the agent the way Trino's HTTP event listener does.

- Retention: the integration-test distributions on Maven Central have no lifecycle API (no ILM
  module in Elasticsearch's, no ISM plugin in OpenSearch's), which is what a server without the
  feature looks like: the agent must say retention is not applied and ship anyway. The policies
  themselves (exact content, a restart writes nothing, an update in place) are checked over HTTP
  in tests/node_agent/test_query_log_retention.py.
- SigV4: the agent as an Amazon OpenSearch Service client, through StandInSigV4Proxy in front of
  the real OpenSearch: signed requests pass, a wrong key is refused and the agent says so.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from components.base import REPO_ROOT
from node_agent.contract import QUERYLOG_PATH
from tests.integration.standin_sigv4 import StandInSigV4Proxy, standin_sigv4_proxy
from tests.integration.test_querylog import QuerylogProcess
from tools.harness.ports import free_port

pytestmark = pytest.mark.integration

EVENT = REPO_ROOT / "tests" / "node_agent" / "data" / "trino476" / "finished_lineitem_scan.json"
REGION = "eu-west-1"
CREDENTIALS = Credentials("AKIDSTANDINEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSTANDINKEY")


def post_event(agent: QuerylogProcess, user: str, end_time: str | None = None) -> str:
    """One QueryCompletedEvent for `user`, as Trino posts it; returns its query id."""
    event = json.loads(EVENT.read_text())
    query_id = f"20261130_000000_{uuid.uuid4().hex[:5]}_abcde"
    event["metadata"]["queryId"] = query_id
    event["context"]["user"] = user
    if end_time is not None:
        event["createTime"] = event["executionStartTime"] = event["endTime"] = end_time
    request = urllib.request.Request(
        f"http://127.0.0.1:{agent.port}{QUERYLOG_PATH}",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return query_id


def count_for(server: Any, prefix: str, user: str) -> int:
    """Documents of `user`; -1 while a just-created index has no started shard yet (503)."""
    lenient = "ignore_unavailable=true&allow_no_indices=true"
    body = {"query": {"term": {"user": user}}}
    try:
        server.request("POST", f"/{prefix}-*/_refresh?{lenient}")
        return int(server.request("POST", f"/{prefix}-*/_count?{lenient}", body)["count"])
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        return -1


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def log_text(agent: QuerylogProcess) -> str:
    return agent.log_path.read_text(errors="replace")


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[QuerylogProcess] = []

    def start(url: str, backend: str, *, extra: tuple[str, ...] = (), env: dict[str, str] | None = None):
        name = f"agent-{len(started)}"
        agent = QuerylogProcess(
            free_port(),
            tmp_path / name / "spool",
            url,
            f"it-stores-{uuid.uuid4().hex[:8]}",
            tmp_path / f"{name}.log",
            backend=backend,
            extra_args=extra,
            env=env,
        )
        agent.start()
        started.append(agent)
        return agent

    try:
        yield start
    finally:
        for agent in started:
            agent.stop()


# --- retention -------------------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["elasticsearch", "opensearch"])
def test_a_store_without_a_lifecycle_api_says_retention_is_not_applied_and_ships_anyway(
    store: str, request: pytest.FixtureRequest, agent_factory: Any
) -> None:
    server = request.getfixturevalue(store)
    agent = agent_factory(server.url, store)
    user = f"it-{uuid.uuid4().hex[:8]}"
    post_event(agent, user)
    wait_until(lambda: count_for(server, agent.prefix, user) == 1, 60, "the document")
    [line, *_] = [line for line in log_text(agent).splitlines() if "RETENTION NOT APPLIED" in line]
    assert "has no lifecycle API" in line and f"{agent.prefix}-retention" in line


# --- SigV4 -----------------------------------------------------------------------------------------
def sigv4_env(credentials: Credentials) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=credentials.access_key, AWS_SECRET_ACCESS_KEY=credentials.secret_key)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


@pytest.fixture
def domain(opensearch: Any) -> Iterator[StandInSigV4Proxy]:
    with standin_sigv4_proxy(opensearch.url, CREDENTIALS, REGION, "es") as proxy:
        yield proxy


def test_the_agents_signed_requests_reach_the_domain(
    opensearch: Any, domain: StandInSigV4Proxy, agent_factory: Any
) -> None:
    agent = agent_factory(
        domain.url, "aws-opensearch", extra=(f"--aws-region={REGION}",), env=sigv4_env(CREDENTIALS)
    )
    user = f"it-{uuid.uuid4().hex[:8]}"
    post_event(agent, user)
    wait_until(lambda: count_for(opensearch, agent.prefix, user) == 1, 60, "the document through the proxy")
    assert domain.verdicts.refused == []
    assert domain.verdicts.accepted >= 2  # at least the template and one bulk request


def test_a_wrong_key_is_refused_and_the_agent_says_why(
    opensearch: Any, domain: StandInSigV4Proxy, agent_factory: Any
) -> None:
    wrong = Credentials(CREDENTIALS.access_key, "not-the-secret-key")
    agent = agent_factory(
        domain.url, "aws-opensearch", extra=(f"--aws-region={REGION}",), env=sigv4_env(wrong)
    )
    user = f"it-{uuid.uuid4().hex[:8]}"
    post_event(agent, user)
    wait_until(
        lambda: "signature we calculated does not match" in log_text(agent), 30, "the agent's log line"
    )
    assert domain.verdicts.accepted == 0
    assert count_for(opensearch, agent.prefix, user) == 0
    line = next(line for line in log_text(agent).splitlines() if "signature we calculated" in line)
    assert "403" in line and domain.url in line
