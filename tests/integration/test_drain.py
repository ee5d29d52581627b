"""Scale-in on a real Trino worker, 476 and 483: the idlest worker is the one chosen, the query in
flight finishes, then the instance may go.

The lifecycle agent runs as on a node (its real Trino client, its real process probe, boto3 against
moto server); FakeImds plays the instance metadata the Auto Scaling group would change, and
StandInLifecycleApi records the two lifecycle calls moto does not implement.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trino

from functions.scale_in.handler import handler as scale_in
from functions.shared.lambda_support import TrinoAccess, TrinoClients
from node_agent.contract import CLOUDWATCH_NAMESPACE, Metric
from node_agent.imds import Imds
from node_agent.lifecycle.command import LifecycleAgent, build_config
from node_agent.lifecycle.drain_state import StateStore
from node_agent.trino.admin import QueryResult
from node_agent.trino.process import TrinoProcess, trino_alive
from tools.harness.fakes import FakeImds, StandInLifecycleApi, instance_metadata
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.trino import READY_TIMEOUT_SECONDS, TrinoCluster
from tools.harness.trino_node import TrinoNode

pytestmark = pytest.mark.integration

HEARTBEAT_TIMEOUT_SECONDS = 6  # test-sized; the agent heartbeats every 2 s
# Scans all of TPC-H sf1 lineitem (6,001,215 rows): long enough on 2 cores to be in flight on the
# draining worker when the termination arrives.
LONG_QUERY = "SELECT count(*), sum(quantity), max(comment) FROM tpch.sf1.lineitem"
# 6,001,215 rows that the client does not read: the query's tasks fill their output buffers and
# wait, unfinished, without using the cores the new workers boot on.
UNREAD_QUERY = "SELECT * FROM tpch.sf1.lineitem"


@dataclass
class Drain:
    worker: TrinoNode
    imds: FakeImds
    lifecycle_api: StandInLifecycleApi
    agent: LifecycleAgent
    log: io.StringIO
    query: dict[str, object]
    exit: dict[str, float | int]


DRAIN_TESTS = 2  # the tests below that use the drain fixture, one new worker each


@pytest.fixture(scope="module")
def new_workers(each_trino: TrinoCluster) -> Iterator[list[TrinoNode]]:
    """A new worker for each drain test, all launched at the module's start: side by side their
    JVMs use the two cores that one boot alone leaves partly idle. Each test drains its own, and
    until then a waiting one is an ordinary active worker of the shared cluster."""
    workers = [each_trino.add_worker(wait=False) for _ in range(DRAIN_TESTS)]
    yield workers
    for unused in workers:  # only when some drain test did not run (-k, -x)
        unused.stop(10)
        each_trino.workers.remove(unused)


@pytest.fixture
def drain(
    each_trino: TrinoCluster,
    new_workers: list[TrinoNode],
    moto_server: MotoServer,
    aws_cluster: ClusterResources,
    tmp_path: Path,
) -> Iterator[Drain]:
    worker = new_workers.pop(0)
    each_trino.factory.wait_until_active(each_trino, [worker], timeout=READY_TIMEOUT_SECONDS)
    instance_id = aws_cluster.worker_instance_ids[0]
    imds = FakeImds(instance_metadata(instance_id, private_ip="127.0.0.1"))
    lifecycle_api = StandInLifecycleApi(observe=lambda: has_exited(worker.process.pid))
    settings = replace(
        each_trino.settings,
        cluster=aws_cluster.cluster,
        heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS,
        lifecycle_hook_name=aws_cluster.lifecycle_hook_name,
    )
    log = io.StringIO()
    agent = LifecycleAgent(
        config=build_config(settings, instance_id),
        imds=Imds(imds.url),
        autoscaling=lifecycle_api.attach(moto_server.boto3_client("autoscaling", aws_cluster.region)),
        cloudwatch=moto_server.boto3_client("cloudwatch", aws_cluster.region),
        trino=worker.admin(),
        trino_running=trino_alive(TrinoProcess(worker.data_dir), worker.admin()),
        store=StateStore(tmp_path / "lifecycle.json"),
        out=log,
    )
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    runner.start()
    try:
        yield Drain(worker, imds, lifecycle_api, agent, log, query={}, exit={})
    finally:
        stop.set()
        runner.join(10)
        imds.stop()
        if worker.running():
            worker.stop(10)


def has_exited(pid: int) -> bool:
    """Whether our child `pid` has exited, without reaping it (the exit watcher does that)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True  # already reaped


def run_in_background(cluster: TrinoCluster, sql: str, into: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            into["result"] = cluster.query(sql, deadline_seconds=300)
        except Exception as exc:  # reported by the test's assertion on "result"
            into["error"] = exc
        into["ended"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def watch_exit(worker: TrinoNode, into: dict[str, float | int]) -> threading.Thread:
    def wait() -> None:
        into["code"] = worker.wait_exit(300)
        into["at"] = time.monotonic()  # when the harness saw it; the agent may be a few ms ahead

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def running_tasks_on(cluster: TrinoCluster, node_id: str) -> int:
    rows = (
        cluster.admin()
        .query(f"SELECT count(*) FROM system.runtime.tasks WHERE node_id = '{node_id}' AND state = 'RUNNING'")
        .rows
    )
    return int(rows[0][0])


def start_unread_query(cluster: TrinoCluster) -> tuple[trino.client.TrinoRequest, str]:
    """Submit UNREAD_QUERY with the `trino` client and follow it until it runs; then stop reading."""
    parts = urlsplit(cluster.url)
    request = trino.client.TrinoRequest(
        str(parts.hostname), int(parts.port or 80), trino.client.ClientSession(user="unread")
    )
    status = request.process(request.post(UNREAD_QUERY))
    while status.next_uri and status.stats.get("state") != "RUNNING":
        status = request.process(request.get(status.next_uri))
    assert status.next_uri, f"the unread query ended at once: {status.stats}"
    return request, status.next_uri


def test_a_scale_in_takes_the_idle_worker_when_auto_scaling_suggests_the_busy_one_first(
    each_trino: TrinoCluster, request: pytest.FixtureRequest
) -> None:
    """Uneven work on a real coordinator, asked by the scale-in function's own handler: a query
    holds tasks on the shared workers, and a worker that joined after it has none."""
    client, next_uri = start_unread_query(each_trino)
    try:
        busy = next(w for w in each_trino.workers if w.running())
        wait_for(lambda: running_tasks_on(each_trino, busy.node_id) > 0, 60, "the unread query's tasks")
        idle = request.getfixturevalue("new_workers")[0]  # launched now: after the query was scheduled
        each_trino.factory.wait_until_active(each_trino, [idle], timeout=READY_TIMEOUT_SECONDS)
        payload = {
            "AutoScalingGroupName": "trino-harness-workers",
            "CapacityToTerminate": [
                {"AvailabilityZone": "az1", "Capacity": 1, "InstanceMarketOption": "on-demand"}
            ],
            # On EC2 a node's id is its instance id (the render's node.id): what Auto Scaling sends.
            "Instances": [
                {"InstanceId": node.node_id, "AvailabilityZone": "az1", "InstanceMarketOption": "on-demand"}
                for node in (busy, idle)
            ],
            "Cause": "SCALE_IN",
        }
        # The function's 2 s budget is production's; 30 s here because JVMs boot beside this test
        # on 2 cores. A slow coordinator's answer is tests/functions/test_scale_in.py's case.
        environ = {"CLUSTER": "harness", "COORDINATOR_ADDRESS": "10.0.0.10", "PROBE_TIMEOUT_SECONDS": "30"}
        coordinator = TrinoClients(
            TrinoAccess(timeout_seconds=30.0), resolve_url=lambda _address: each_trino.url
        )
        assert scale_in(payload, None, environ=environ, trino=coordinator) == {"InstanceIDs": [idle.node_id]}
    finally:
        client.delete(next_uri)


def test_scale_in_lets_the_query_in_flight_finish_and_completes_after_trino_exits(
    each_trino: TrinoCluster, drain: Drain, moto_server: MotoServer
) -> None:
    worker = drain.worker
    query = run_in_background(each_trino, LONG_QUERY, drain.query)
    wait_for(
        lambda: running_tasks_on(each_trino, worker.node_id) > 0, 120, "a task of the query on the worker"
    )
    exited = watch_exit(worker, drain.exit)

    assert not drain.query, f"the query ended before the drain began: {drain.query}"
    terminated_at = time.monotonic()
    drain.imds.set("autoscaling/target-lifecycle-state", "Terminated")

    query.join(300)
    assert "error" not in drain.query, drain.query.get("error")
    result = drain.query["result"]
    assert isinstance(result, QueryResult)
    assert result.rows[0][0] == 6001215

    exited.join(300)
    assert drain.exit["code"] == 0
    wait_for(lambda: drain.lifecycle_api.completions(), 30, "CompleteLifecycleAction")
    [completion] = drain.lifecycle_api.completions()
    assert completion.params["LifecycleActionResult"] == "CONTINUE"
    assert completion.observed is True, "completed while the Trino process was still running"
    # The agent reads the process, then heartbeats if one is due: a heartbeat decided while Trino
    # still ran can reach AWS a moment after it exits (a CI run saw one). None may follow the
    # step that sees the exit, so at most that one heartbeat comes after it.
    after_exit = [h for h in drain.lifecycle_api.heartbeats() if h.observed]
    assert len(after_exit) <= 1, after_exit

    assert worker.node_id not in each_trino.active_worker_ids()

    heartbeats = [h.at for h in drain.lifecycle_api.heartbeats()]
    assert completion.at - terminated_at > HEARTBEAT_TIMEOUT_SECONDS  # the drain outlived one timeout
    gaps = [b - a for a, b in zip([terminated_at, *heartbeats], [*heartbeats, completion.at], strict=True)]
    assert max(gaps) < HEARTBEAT_TIMEOUT_SECONDS, gaps

    def decisions() -> list[dict[str, str]]:
        return [json.loads(line) for line in drain.log.getvalue().splitlines()]

    wait_for(lambda: decisions()[-1]["decision"] == "complete", 10, "the agent's completion log line")
    assert "trino exited after draining" in decisions()[-1]["reason"]

    cloudwatch = moto_server.boto3_client("cloudwatch")
    published = cloudwatch.list_metrics(
        Namespace=CLOUDWATCH_NAMESPACE, MetricName=Metric.WORKER_DRAIN_SECONDS.value
    )["Metrics"]
    assert published

    query_end = float(drain.query["ended"])  # type: ignore[arg-type]
    print(
        f"\ndrain numbers: query end -> CompleteLifecycleAction {completion.at - query_end:.2f}s; "
        f"trino exit -> CompleteLifecycleAction {completion.at - drain.exit['at']:+.2f}s; "
        f"termination -> complete {completion.at - terminated_at:.1f}s; heartbeats {len(heartbeats)}"
    )


def restart_like_systemd(cluster: TrinoCluster, worker: TrinoNode) -> TrinoNode:
    """What `Restart=on-failure` does after a crash: SIGKILL leaves a failed JVM, and the same
    command starts a new server on the same etc/, data dir and port, which comes back ACTIVE."""
    worker.kill()
    return cluster.factory.launch(
        worker.name, worker.role, etc_dir=worker.etc_dir, data_dir=worker.data_dir, http_port=worker.http_port
    )


def test_trino_restarted_mid_drain_is_asked_again_so_the_query_finishes_and_the_node_ends_drained(
    each_trino: TrinoCluster, drain: Drain
) -> None:
    # The spot notice starts the drain before the group acts, so the agent waits through the crash
    # instead of completing; trino.service's ExecCondition would keep this Trino down (tested in
    # tests/image), so the restart here is what an operator's `systemctl start trino` or an image
    # without that condition does, and what the agent must handle by itself.
    def decisions() -> list[dict[str, str]]:
        return [json.loads(line) for line in drain.log.getvalue().splitlines()]

    def asked_again() -> bool:
        return any("restarted mid-drain" in d["reason"] for d in decisions())

    drain.imds.set("spot/instance-action", {"action": "terminate", "time": "2026-11-30T03:00:00Z"})
    wait_for(lambda: drain.worker.admin().state().strip('"') == "SHUTTING_DOWN", 120, "the first shutdown")
    restarted = restart_like_systemd(each_trino, drain.worker)
    try:
        wait_for(asked_again, READY_TIMEOUT_SECONDS, "the agent asking the restarted Trino to shut down")
        query = run_in_background(each_trino, LONG_QUERY, drain.query)
        assert restarted.wait_exit(READY_TIMEOUT_SECONDS) == 0  # it drained and exited by itself
        query.join(300)
        assert "error" not in drain.query, drain.query.get("error")
        assert drain.query["result"].rows[0][0] == 6001215  # type: ignore[union-attr]
        assert drain.lifecycle_api.completions() == []  # the group has not acted yet
        drain.imds.set("autoscaling/target-lifecycle-state", "Terminated")
        wait_for(lambda: drain.lifecycle_api.completions(), 120, "CompleteLifecycleAction")
        # At least once more than the first request: on a loaded machine the restarted Trino can
        # refuse a request while it is still starting, and the agent asks again after its back-off.
        assert drain.agent.record is not None and drain.agent.record.shutdown_requests >= 2
        # The coordinator drops a gone node on its next node-state poll, not at once.
        wait_for(
            lambda: restarted.node_id not in each_trino.active_worker_ids(),
            60,
            "the coordinator to drop the drained worker",
        )
    finally:
        if restarted.running():
            restarted.kill()
