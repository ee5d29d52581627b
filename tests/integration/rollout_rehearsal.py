"""A rollout rehearsed on real Trino 476, with the harness playing AWS's part.

The cluster: the coordinator pair of tools/harness/coordinator_pair.py (two coordinators and two workers
rendered for production by the project's renderer, every node's discovery URI the coordinator
address, which follows the ENI in moto server). A client outside the cluster runs a steady
stream of queries at the address with the `trino` Python client at its defaults (users' client:
it retries a request whose connection failed, up to 3 attempts). Then the rollout, as an instance
refresh would run it:
- workers, one at a time: launch the replacement and wait until Trino counts it active, then
  terminate the old one through the lifecycle path (the node agent's LifecycleAgent, real Trino
  client and process probe, FakeImds saying Terminated, StandInLifecycleApi for the two calls
  moto lacks): it drains and exits;
- coordinators, launch before terminate: a new coordinator (a new member of the moto group), then
  the holder held by the switchover hook (StandInTerminationHook) and the failover handler invoked
  with the hook's event, unchanged apart from the address resolver; once it completes, the old
  holder stops; then the old standby, which is let go at once. A MoveRacer can put a query on the
  holder between the switchover's quiet look and its detach, the race a steady stream hits by chance.
Shared by tests/integration/test_rollout.py (counts asserted) and bench/rollout.py (times printed).
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trino

from node_agent.contract import NodeSettings
from node_agent.imds import Imds
from node_agent.lifecycle.command import LifecycleAgent, StateStore, TrinoProcess, build_config, trino_alive
from node_agent.trino.admin import TrinoError, TrinoUnavailable
from tests.functions.standin_hook import StandInTerminationHook
from tools.harness.coordinator_pair import CoordinatorPair, start_pair
from tools.harness.failover_function import FailoverFunction, eni_holder, termination_event
from tools.harness.fakes import FakeImds, StandInLifecycleApi, instance_metadata
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.trino import TrinoFactory
from tools.harness.trino_node import TrinoNode

STREAM_SQL = "SELECT count(*) FROM tpch.tiny.orders"
RACE_SQL = "SELECT * FROM tpch.tiny.lineitem"  # 60,175 rows: many pages, so it stays open between them
RACE_ROWS = 60175
HOOK = "switchover"
START_TIMEOUT = 900.0  # seconds; bounds for a loaded machine, not performance asserts


@dataclass
class StreamRecord:
    ok: list[float] = field(default_factory=list)
    failed: list[tuple[float, str]] = field(default_factory=list)


class QueryStream:
    """Clients outside the cluster, each running one query after another at the address."""

    def __init__(self, url: str, *, clients: int = 1, pause: float = 0.5) -> None:
        self.url, self.clients, self.pause = url, clients, pause
        self.record = StreamRecord()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> StreamRecord:
        self._stop.set()
        for t in self._threads:
            t.join(180)
        return self.record

    def failed_between(self, start: float, end: float) -> list[tuple[float, str]]:
        with self._lock:
            return [f for f in self.record.failed if start <= f[0] <= end]

    def _run(self) -> None:
        connection = client_connection(self.url, "stream")  # one per client, kept: users' pattern
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                cursor = connection.cursor()
                cursor.execute(STREAM_SQL)
                rows = cursor.fetchall()
                ok = rows == [[15000]]
                reason = "" if ok else f"wrong answer {rows}"
            except Exception as exc:  # whatever the client raises is a failed query, recorded by type
                ok, reason = False, f"{type(exc).__name__}: {exc}"
            with self._lock:
                if ok:
                    self.record.ok.append(started)
                else:
                    self.record.failed.append((started, reason))
            self._stop.wait(self.pause)


def client_connection(url: str, user: str) -> Any:
    """A `trino` Python client connection to `url` with the client's default settings."""
    parts = urlsplit(url)
    return trino.dbapi.connect(host=parts.hostname, port=parts.port, user=user, http_scheme=parts.scheme)


class MoveRacer:
    """Queries that reach the holder between the switchover's quiet look and its detach.

    Hooked into the failover function's EC2 client: before each of the first detaches, one query
    at the address with the real `trino` client, so the holder was quiet at the look and is not
    at the detach; the rest of it is fetched once the detach is done. What a steady stream hits by
    chance, here every time, in both forms:
    - "dispatched": the query runs on the holder (its first row is back);
    - "submitted": the client has the POST's answer and follows its nextUri only SLOW_CLIENT_SECONDS
      after the address is attached again (Trino dispatches a query at that first follow, so until
      then no listing shows it). Slow on purpose: the switchover looks again within a quarter
      second of the return, and a CI run lost this query when its GET came after that look;
    - "abandoned": the POST reached the holder but its answer did not reach the client (the move
      reset the connection), so the client submits the query again once the address answers, and
      nobody ever follows the first id. A CI run's stream hit this by chance and held the
      switchover to its quiet-wait limit.
    """

    KINDS = ("dispatched", "submitted", "abandoned")
    SLOW_CLIENT_SECONDS = 2.0  # several of the switchover's 0.25 s looks

    def __init__(self, ec2: Any, url: str) -> None:
        self.url = url
        self.rows: dict[str, int] = {}
        self.errors: dict[str, str] = {}
        self._pending = list(self.KINDS)
        self._detached = threading.Event()
        self._attached = threading.Event()
        self._threads: list[threading.Thread] = []
        ec2.meta.events.register("before-call.ec2.DetachNetworkInterface", self._before_detach)
        ec2.meta.events.register("after-call.ec2.DetachNetworkInterface", self._after_detach)
        ec2.meta.events.register("after-call.ec2.AttachNetworkInterface", self._after_attach)

    def _before_detach(self, **_: Any) -> None:  # returns None: the detach itself goes ahead
        if not self._pending:
            return
        kind = self._pending.pop(0)
        accepted, self._detached, self._attached = threading.Event(), threading.Event(), threading.Event()
        thread = threading.Thread(
            target=self._race, args=(kind, accepted, self._detached, self._attached), daemon=True
        )
        self._threads.append(thread)
        thread.start()
        if not accepted.wait(60):
            raise AssertionError(f"the racing {kind} query was not accepted in 60 s")

    def _after_detach(self, **_: Any) -> None:
        self._detached.set()

    def _after_attach(self, **_: Any) -> None:
        if self._detached.is_set():
            self._attached.set()

    def _race(
        self, kind: str, accepted: threading.Event, detached: threading.Event, attached: threading.Event
    ) -> None:
        try:
            if kind == "dispatched":
                cursor = client_connection(self.url, "racer").cursor()
                cursor.execute(RACE_SQL)
                first = cursor.fetchone()
                accepted.set()
                detached.wait(60)
                self.rows[kind] = (first is not None) + len(cursor.fetchall())
            elif kind == "abandoned":
                self._request().post(RACE_SQL)  # the holder allocated an id; the answer is dropped
                accepted.set()
                detached.wait(60)
                attached.wait(60)
                cursor = client_connection(self.url, "racer").cursor()
                cursor.execute(RACE_SQL)  # the client's own retry of the request the reset failed
                self.rows[kind] = len(cursor.fetchall())
            else:
                request = self._request()
                status = request.process(request.post(RACE_SQL))
                accepted.set()
                detached.wait(60)
                attached.wait(60)
                time.sleep(self.SLOW_CLIENT_SECONDS)
                rows = list(status.rows)
                while status.next_uri:
                    status = request.process(request.get(status.next_uri))
                    rows.extend(status.rows)
                self.rows[kind] = len(rows)
        except Exception as exc:  # the client's failure is the outcome under test
            self.errors[kind] = f"{type(exc).__name__}: {exc}"
        finally:
            accepted.set()

    def _request(self) -> trino.client.TrinoRequest:
        parts = urlsplit(self.url)
        return trino.client.TrinoRequest(
            str(parts.hostname),
            int(parts.port or 80),
            trino.client.ClientSession(user="racer"),
            http_scheme=parts.scheme,
        )

    def finished(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)


@dataclass
class Numbers:
    worker_seconds: list[float] = field(default_factory=list)
    coordinator_seconds: float = 0.0
    worker_failed: list[tuple[float, str]] = field(default_factory=list)
    coordinator_failed: list[tuple[float, str]] = field(default_factory=list)
    queries_ok: int = 0
    address_down_seconds: float = 0.0
    switchover: list[dict[str, Any]] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    raced_rows: dict[str, int] = field(default_factory=dict)  # rows each query racing the move got
    raced_errors: dict[str, str] = field(default_factory=dict)


class Rehearsal:
    def __init__(
        self,
        factory: TrinoFactory,
        moto: MotoServer,
        resources: ClusterResources,
        workdir: Path,
        settings: NodeSettings | None = None,
    ) -> None:
        self.factory, self.moto, self.resources, self.workdir = factory, moto, resources, workdir
        self.settings = settings
        self.autoscaling = moto.boto3_client("autoscaling", resources.region)
        self.function = FailoverFunction(moto, resources, PROBE_WINDOW_SECONDS="0", SWITCHOVER_HOOK_NAME=HOOK)
        self.pair: CoordinatorPair | None = None
        self.address_down_seconds = 0.0
        self.phases: list[str] = []  # where the time went, for the bench
        self._stop = threading.Event()

    # --- the cluster ------------------------------------------------------------------------
    def start(self) -> CoordinatorPair:
        """A running cluster: the address on the first coordinator, both workers joined."""
        old = sorted(self.resources.coordinator_instance_ids)
        pair = self.pair = start_pair(
            self.factory,
            old,
            lambda: eni_holder(self.moto, self.resources.coordinator_eni_id, self.resources.region),
            workers=2,
            settings=self.settings,
            name="rollout",
        )
        for iid, node in pair.coordinators.items():
            self.function.play(iid, node.url)
        pair.address.follow(self.function.clients["ec2"])  # the address moves when the call returns
        self.function.use_shared_secret(pair.secrets.shared_secret)
        pair.wait_started([*pair.coordinators.values(), *pair.workers], timeout=START_TIMEOUT)
        self.moto.boto3_client("ec2", self.resources.region).attach_network_interface(
            NetworkInterfaceId=self.resources.coordinator_eni_id, InstanceId=old[0], DeviceIndex=1
        )
        _wait(lambda: pair.address.holder == old[0], 60, "the address to follow the ENI")
        pair.wait_joined(pair.coordinators[old[0]], START_TIMEOUT)
        threading.Thread(target=self._time_address_down, daemon=True).start()
        return pair

    def stop(self) -> None:
        self._stop.set()
        if self.pair is not None:
            self.pair.stop()

    def _time_address_down(self) -> None:
        """Sum the time the ENI is attached to nobody (between a detach and an attach)."""
        assert self.pair is not None
        down_since: float | None = None
        while not self._stop.wait(0.02):
            now = time.monotonic()
            if self.pair.address.holder is None and down_since is None:
                down_since = now
            elif self.pair.address.holder is not None and down_since is not None:
                self.address_down_seconds += now - down_since
                down_since = None

    def _active(self, node: TrinoNode) -> bool:
        """Whether the holder schedules work on `node` (system.runtime.nodes says active)."""
        assert self.pair is not None
        holder = self.pair.holder_node()
        if holder is None:
            return False
        sql = f"SELECT state FROM system.runtime.nodes WHERE node_id = '{node.node_id}'"
        with contextlib.suppress(TrinoError, TrinoUnavailable):
            return holder.admin(timeout=10).query(sql, deadline_seconds=30).rows == [["active"]]
        return False

    # --- workers ----------------------------------------------------------------------------
    def roll_worker(self, old: TrinoNode, instance_id: str) -> float:
        """Launch a replacement, wait for it in Trino, then terminate `old` through the drain."""
        assert self.pair is not None
        started = time.monotonic()
        new = self.pair.add_worker()
        self.pair.wait_started([new], timeout=START_TIMEOUT)
        _wait(lambda: self._active(new), START_TIMEOUT, f"{new.name} active")
        joined = time.monotonic()
        self._drain(old, instance_id)
        self.pair.workers.remove(old)
        drained = time.monotonic() - joined
        self.phases.append(f"{new.name} active {joined - started:.1f} s; {old.name} drained {drained:.1f} s")
        return time.monotonic() - started

    def _drain(self, old: TrinoNode, instance_id: str) -> None:
        """The termination as Auto Scaling runs it: IMDS says Terminated, the node agent drains."""
        assert self.pair is not None
        imds = FakeImds(instance_metadata(instance_id, private_ip="127.0.0.1"))
        api = StandInLifecycleApi()
        settings = replace(
            self.pair.settings,
            cluster=self.resources.cluster,
            heartbeat_timeout_seconds=30,
            lifecycle_hook_name=self.resources.lifecycle_hook_name,
        )
        agent = LifecycleAgent(
            config=build_config(settings, instance_id),
            imds=Imds(imds.url),
            autoscaling=api.attach(self.moto.boto3_client("autoscaling", self.resources.region)),
            cloudwatch=self.moto.boto3_client("cloudwatch", self.resources.region),
            trino=old.admin(),
            trino_running=trino_alive(TrinoProcess(old.data_dir), old.admin()),
            store=StateStore(self.workdir / f"lifecycle-{instance_id}.json"),
            out=io.StringIO(),
        )
        stop = threading.Event()
        runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        runner.start()
        try:
            imds.set("autoscaling/target-lifecycle-state", "Terminated")
            _wait(lambda: bool(api.completions()), START_TIMEOUT, f"{old.name} drained, its action completed")
            old.wait_exit(60)
        finally:
            stop.set()
            runner.join(10)
            imds.stop()

    # --- coordinators -----------------------------------------------------------------------
    def launch_coordinator(self) -> TrinoNode:
        """The coordinator refresh's first step (launch before terminate): one more member, booting."""
        assert self.pair is not None
        before = set(self._members())
        self.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=self.resources.coordinator_asg_name, MaxSize=3, DesiredCapacity=3
        )
        (new_id,) = set(self._members()) - before
        new = self.pair.add_coordinator(new_id)
        self.function.play(new_id, new.url)
        return new

    def switch_over(self, new: TrinoNode) -> list[dict[str, Any]]:
        """Once `new` has booted: switch the holder over to it, then let the old standby go.

        Returns the function's switchover log records.
        """
        assert self.pair is not None
        old = sorted(self.resources.coordinator_instance_ids)
        self.pair.wait_started([new], timeout=START_TIMEOUT)
        booted = time.monotonic()
        hook = StandInTerminationHook(self.function.clients["autoscaling"], HOOK)
        holder = self.pair.address.holder
        assert holder is not None
        standby = next(i for i in old if i != holder)
        outcomes: list[dict[str, Any]] = []
        for leaving in (holder, standby):
            hook.hold(leaving)
            while leaving not in hook.completed():
                outcomes.extend(self._invoke())
            self.pair.coordinators.pop(leaving).stop(20)  # Auto Scaling terminates it after CONTINUE
        self.phases.append(
            f"coordinators: switchover after the new one booted {time.monotonic() - booted:.1f} s"
        )
        return outcomes

    def _invoke(self) -> list[dict[str, Any]]:
        """One invocation for the hook's event; its switchover log records (JSON lines on stdout)."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.function.invoke(termination_event(self.resources, HOOK))
        records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
        return [r for r in records if str(r.get("decision", "")).startswith("switchover_")]

    def _members(self) -> list[str]:
        answer = self.autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.resources.coordinator_asg_name]
        )
        return [i["InstanceId"] for i in answer["AutoScalingGroups"][0]["Instances"]]

    # --- the whole rehearsal ----------------------------------------------------------------
    def run(
        self,
        *,
        clients: int = 1,
        pause: float = 0.5,
        quiet_wait_seconds: int = 60,
        race_the_move: bool = False,
    ) -> Numbers:
        assert self.pair is not None
        racer = MoveRacer(self.function.clients["ec2"], self.pair.address.url) if race_the_move else None
        self.function.environment["SWITCHOVER_QUIET_WAIT_SECONDS"] = str(quiet_wait_seconds)
        numbers = Numbers()
        stream = QueryStream(self.pair.address.url, clients=clients, pause=pause)
        stream.start()
        try:
            time.sleep(2)
            phase = time.monotonic()
            # Both groups refresh at once, as two instance refreshes do: the new coordinator boots
            # while the workers roll; the switchover waits for the worker phase to be counted.
            coordinators_started = time.monotonic()
            new_coordinator = self.launch_coordinator()
            old_workers = list(self.pair.workers)
            for old, iid in zip(old_workers, sorted(self.resources.worker_instance_ids), strict=False):
                numbers.worker_seconds.append(self.roll_worker(old, iid))
            time.sleep(2)  # queries started during the worker phase finish inside it
            numbers.worker_failed = stream.failed_between(phase, time.monotonic())
            phase = time.monotonic()
            numbers.switchover = self.switch_over(new_coordinator)
            if racer is not None:
                racer.finished(120)
                numbers.raced_rows, numbers.raced_errors = racer.rows, racer.errors
            numbers.coordinator_seconds = time.monotonic() - coordinators_started
            holder = self.pair.holder_node()
            assert holder is not None, "the address is attached to nobody after the switchover"
            self.pair.wait_joined(holder, START_TIMEOUT)
            time.sleep(2)
            numbers.coordinator_failed = stream.failed_between(phase, time.monotonic())
        finally:
            record = stream.stop()
        numbers.queries_ok = len(record.ok)
        numbers.phases = list(self.phases)
        numbers.address_down_seconds = self.address_down_seconds
        return numbers


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
