"""Per-store behaviour of the query-log agent against real servers, without Trino: events are
POSTed to the agent the way Trino's HTTP event listener does.

- Retention: Elasticsearch gets its ILM policy at start, a second start leaves it as it is, and an
  index older than the retention is deleted. The harness's OpenSearch is the integration-test
  distribution, which has no ISM plugin: there the agent must say retention is not applied and
  ship anyway (the ISM policy's content is checked in tests/node_agent/test_query_log_stores.py).
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

from harness.ports import free_port
from node_agent.contract import QUERYLOG_PATH
from tests.integration.standin_sigv4 import StandInSigV4Proxy, standin_sigv4_proxy
from tests.integration.test_querylog import QuerylogProcess

pytestmark = pytest.mark.integration

EVENT = (
    Path(__file__).resolve().parents[1] / "node_agent" / "data" / "trino476" / "finished_lineitem_scan.json"
)
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
    lenient = "ignore_unavailable=true&allow_no_indices=true"
    server.request("POST", f"/{prefix}-*/_refresh?{lenient}")
    body = {"query": {"term": {"user": user}}}
    return int(server.request("POST", f"/{prefix}-*/_count?{lenient}", body)["count"])


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
def test_elasticsearch_has_the_retention_policy_after_start(elasticsearch: Any, agent_factory: Any) -> None:
    agent = agent_factory(elasticsearch.url, "elasticsearch", extra=("--retention-days=7",))
    user = f"it-{uuid.uuid4().hex[:8]}"
    post_event(agent, user)
    wait_until(lambda: count_for(elasticsearch, agent.prefix, user) == 1, 60, "the document")

    name = f"{agent.prefix}-retention"
    policy = elasticsearch.request("GET", f"/_ilm/policy/{name}")[name]["policy"]
    assert policy["phases"] == {
        "delete": {"min_age": "7d", "actions": {"delete": {"delete_searchable_snapshot": True}}}
    }
    settings = elasticsearch.request("GET", f"/{agent.prefix}-*/_settings")
    [index] = settings.values()
    assert index["settings"]["index"]["lifecycle"] == {"name": name, "parse_origination_date": "true"}


def test_a_second_start_leaves_the_elasticsearch_policy_as_it_was(
    elasticsearch: Any, agent_factory: Any
) -> None:
    first = agent_factory(elasticsearch.url, "elasticsearch")
    name = f"{first.prefix}-retention"
    wait_until(lambda: "retention policy" in log_text(first), 30, "the first start's retention line")
    version = elasticsearch.request("GET", f"/_ilm/policy/{name}")[name]["version"]
    first.stop()
    first.start()
    wait_until(lambda: "already up to date" in log_text(first), 30, "the second start's retention line")
    assert elasticsearch.request("GET", f"/_ilm/policy/{name}")[name]["version"] == version
    assert len([p for p in elasticsearch.request("GET", "/_ilm/policy") if p == name]) == 1


def test_an_index_older_than_the_retention_is_deleted(elasticsearch: Any, agent_factory: Any) -> None:
    # Test-only: ILM looks for work every 10 minutes by default; its docs name this setting for
    # making it look every second. The policy and the template are the agent's own.
    elasticsearch.request(
        "PUT", "/_cluster/settings", {"persistent": {"indices.lifecycle.poll_interval": "1s"}}
    )
    try:
        agent = agent_factory(elasticsearch.url, "elasticsearch", extra=("--retention-days=30",))
        old, new = f"it-old-{uuid.uuid4().hex[:6]}", f"it-new-{uuid.uuid4().hex[:6]}"
        post_event(agent, old, end_time="2020-01-01T12:00:00.000Z")
        post_event(agent, new)
        wait_until(lambda: count_for(elasticsearch, agent.prefix, new) == 1, 60, "today's document")

        def old_index_gone() -> bool:
            indices = elasticsearch.request("GET", f"/_cat/indices/{agent.prefix}-*?format=json&h=index")
            return f"{agent.prefix}-2020.01.01" not in {i["index"] for i in indices}

        wait_until(old_index_gone, 90, "ILM deleting the 2020 index")
        assert count_for(elasticsearch, agent.prefix, new) == 1
    finally:
        elasticsearch.request(
            "PUT", "/_cluster/settings", {"persistent": {"indices.lifecycle.poll_interval": None}}
        )


def test_without_ism_opensearch_says_retention_is_not_applied_and_ships_anyway(
    opensearch: Any, agent_factory: Any
) -> None:
    agent = agent_factory(opensearch.url, "opensearch")
    user = f"it-{uuid.uuid4().hex[:8]}"
    post_event(agent, user)
    wait_until(lambda: count_for(opensearch, agent.prefix, user) == 1, 60, "the document")
    [line] = [line for line in log_text(agent).splitlines() if "RETENTION NOT APPLIED" in line]
    assert "Index State Management" in line


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
