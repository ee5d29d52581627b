"""A rollout rehearsed on real Trino 476, with the harness playing AWS's part.

The cluster: two coordinators and two workers, rendered for production by the project's renderer,
every node's discovery URI the coordinator address (`harness.address.AddressStandIn`, which
follows the ENI in moto server). A client outside the cluster runs a steady stream of queries at the
address. Then the rollout, as an instance refresh would run it:
- workers, one at a time: launch the replacement and wait until Trino counts it active, then
  terminate the old one through the lifecycle path (the node agent's LifecycleAgent, real Trino
  client and process probe, FakeImds saying Terminated, StandInLifecycleApi for the two calls
  moto lacks): it drains and exits;
- coordinators, launch before terminate: a new coordinator (a new member of the moto group), then
  the holder held by the switchover hook (StandInTerminationHook) and the failover handler invoked
  with the hook's event, unchanged apart from the address resolver; once it completes, the old
  holder stops; then the old standby, which is let go at once.
Shared by tests/integration/test_rollout.py (counts asserted) and bench/rollout.py (times printed).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from functions.shared.lambda_support import TrinoAccess, TrinoClients
from harness.address import AddressStandIn
from harness.moto import ClusterResources, MotoServer
from harness.trino import TrinoFactory, TrinoNode, default_settings, harness_secrets
from node_agent.contract import Role
from node_agent.imds import Imds
from node_agent.lifecycle import LifecycleAgent, StateStore, TrinoProcess, build_config, trino_alive
from node_agent.trino import TrinoAdmin, TrinoError, TrinoUnavailable
from tests.functions.standin_hook import StandInTerminationHook
from tests.node_agent.fakes import FakeImds, StandInLifecycleApi, instance_metadata

FAILOVER_DIR = Path(__file__).resolve().parents[2] / "functions" / "failover"
STREAM_SQL = "SELECT count(*) FROM tpch.tiny.orders"
HOOK = "switchover"


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

    def ok_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for t in self.record.ok if start <= t <= end)

    def _run(self) -> None:
        admin = TrinoAdmin(self.url, user="stream", timeout=30)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                rows = admin.query(STREAM_SQL, deadline_seconds=120).rows
                ok = rows == [[15000]]
                reason = "" if ok else f"wrong answer {rows}"
            except (TrinoError, TrinoUnavailable) as exc:
                ok, reason = False, str(exc)
            with self._lock:
                if ok:
                    self.record.ok.append(started)
                else:
                    self.record.failed.append((started, reason))
            self._stop.wait(self.pause)


def load_failover_handler() -> ModuleType:
    if str(FAILOVER_DIR) not in sys.path:
        sys.path.insert(0, str(FAILOVER_DIR))
    spec = importlib.util.spec_from_file_location("failover_handler_rollout", FAILOVER_DIR / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContextStandIn:
    def __init__(self, timeout_seconds: float = 90.0) -> None:
        self.deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


@dataclass
class Numbers:
    worker_seconds: list[float] = field(default_factory=list)
    coordinator_seconds: float = 0.0
    worker_failed: list[tuple[float, str]] = field(default_factory=list)
    coordinator_failed: list[tuple[float, str]] = field(default_factory=list)
    queries_ok: int = 0
    address_down_seconds: float = 0.0
    switchover: list[dict[str, Any]] = field(default_factory=list)


class Rehearsal:
    def __init__(
        self, factory: TrinoFactory, moto: MotoServer, resources: ClusterResources, workdir: Path
    ) -> None:
        self.factory, self.moto, self.resources, self.workdir = factory, moto, resources, workdir
        self.settings = default_settings(factory.version)
        self.secrets = harness_secrets()
        self.ec2 = moto.boto3_client("ec2", resources.region)
        self.autoscaling = moto.boto3_client("autoscaling", resources.region)
        self.proxy = AddressStandIn(self._eni_holder, {})  # instance id -> Trino port, filled below
        self.address_down_seconds = 0.0
        self.url_of_ip: dict[str, str] = {}  # moto private IP -> Trino URL (the functions' resolver)
        self.coordinators: dict[str, TrinoNode] = {}
        self.workers: list[TrinoNode] = []
        self._stop = threading.Event()
        self._nodes: list[TrinoNode] = []

    # --- the cluster ------------------------------------------------------------------------
    def start(self) -> None:
        old = sorted(self.resources.coordinator_instance_ids)
        nodes = [self._node(Role.COORDINATOR, f"r-coord{i}") for i in range(len(old))]
        self.workers = [self._node(Role.WORKER, f"r-worker{i}") for i in range(2)]
        for iid, node in zip(old, nodes, strict=True):
            self._register(iid, node)
        self.ec2.attach_network_interface(
            NetworkInterfaceId=self.resources.coordinator_eni_id, InstanceId=old[0], DeviceIndex=1
        )
        self._wait(lambda: self.proxy.holder is not None, 60, "the address to follow the ENI")
        threading.Thread(target=self._time_address_down, daemon=True).start()
        self._wait(lambda: self._active_workers() >= 2, 900, "two workers active at the address")

    def stop(self) -> None:
        self._stop.set()
        self.proxy.close()
        for node in self._nodes:
            if node.running():
                node.stop(10)

    def _node(self, role: Role, name: str) -> TrinoNode:
        node = self.factory.start_node(
            None,
            role,
            settings=self.settings,
            secrets=self.secrets,
            cluster_name=name,
            discovery_uri=self.proxy.url,
        )
        self._nodes.append(node)
        return node

    def _register(self, instance_id: str, node: TrinoNode) -> None:
        self.coordinators[instance_id] = node
        self.proxy.ports[instance_id] = node.http_port
        answer = self.ec2.describe_instances(InstanceIds=[instance_id])
        ip = answer["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
        self.url_of_ip[ip] = node.url

    def _time_address_down(self) -> None:
        """Sum the time the ENI is attached to nobody (between a detach and an attach)."""
        down_since: float | None = None
        while not self._stop.wait(0.02):
            now = time.monotonic()
            if self.proxy.holder is None and down_since is None:
                down_since = now
            elif self.proxy.holder is not None and down_since is not None:
                self.address_down_seconds += now - down_since
                down_since = None

    def _eni_holder(self) -> str | None:
        eni = self.ec2.describe_network_interfaces(NetworkInterfaceIds=[self.resources.coordinator_eni_id])
        return (eni["NetworkInterfaces"][0].get("Attachment") or {}).get("InstanceId")

    def _active_workers(self) -> int:
        try:
            rows = (
                TrinoAdmin(self.proxy.url, timeout=10)
                .query(
                    "SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'"
                )
                .rows
            )
            return int(rows[0][0])
        except (TrinoError, TrinoUnavailable):
            return 0

    @staticmethod
    def _wait(condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    # --- workers ----------------------------------------------------------------------------
    def roll_worker(self, old: TrinoNode, instance_id: str) -> float:
        """Launch a replacement, wait for it in Trino, then terminate `old` through the drain."""
        started = time.monotonic()
        new = self._node(Role.WORKER, f"r-worker-new{len(self.workers)}")
        self.workers.append(new)
        self._wait(lambda: self._active_workers() >= 3, 900, f"{new.name} active")
        imds = FakeImds(instance_metadata(instance_id, private_ip="127.0.0.1"))
        api = StandInLifecycleApi()
        settings = replace(
            self.settings,
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
            self._wait(lambda: api.completions(), 900, f"{old.name} drained and its action completed")
            old.wait_exit(60)
        finally:
            stop.set()
            runner.join(10)
            imds.stop()
        self.workers.remove(old)
        return time.monotonic() - started

    # --- coordinators -----------------------------------------------------------------------
    def roll_coordinators(self, *, quiet_wait_seconds: int = 60) -> float:
        """Launch one new coordinator, switch the holder over to it, then let the old standby go."""
        started = time.monotonic()
        old = sorted(self.resources.coordinator_instance_ids)
        before = set(self._members())
        self.autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=self.resources.coordinator_asg_name, MaxSize=3, DesiredCapacity=3
        )
        (new_id,) = set(self._members()) - before
        new = self._node(Role.COORDINATOR, "r-coord-new")
        self._register(new_id, new)
        self._wait(lambda: _answers(new), 900, "the new coordinator ready")
        hook = StandInTerminationHook(self.autoscaling, HOOK)
        holder = self._eni_holder()
        assert holder is not None
        standby = next(i for i in old if i != holder)
        for leaving in (holder, standby):
            hook.hold(leaving)
            while leaving not in hook.completed():
                self._invoke(quiet_wait_seconds)
            self.coordinators[leaving].stop(20)  # Auto Scaling terminates it after CONTINUE
        return time.monotonic() - started

    def _members(self) -> list[str]:
        answer = self.autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.resources.coordinator_asg_name]
        )
        return [i["InstanceId"] for i in answer["AutoScalingGroups"][0]["Instances"]]

    def _invoke(self, quiet_wait_seconds: int) -> dict[str, Any]:
        failover = load_failover_handler()
        trino = TrinoClients(TrinoAccess(timeout_seconds=3.0), resolve_url=lambda ip: self.url_of_ip[ip])
        clients = {
            s: self.moto.boto3_client(s, self.resources.region)
            for s in ("ec2", "cloudwatch", "secretsmanager")
        }
        clients["autoscaling"] = self.autoscaling
        event = {
            "source": "aws.autoscaling",
            "detail-type": "EC2 Instance-terminate Lifecycle Action",
            "detail": {
                "AutoScalingGroupName": self.resources.coordinator_asg_name,
                "LifecycleHookName": HOOK,
            },
        }
        environ = {
            "CLUSTER": self.resources.cluster,
            "COORDINATOR_ENI_ID": self.resources.coordinator_eni_id,
            "COORDINATOR_ASG_NAME": self.resources.coordinator_asg_name,
            "GRACE_PERIOD_SECONDS": "0",
            "PROBE_WINDOW_SECONDS": "0",
            "SWITCHOVER_HOOK_NAME": HOOK,
            "SWITCHOVER_QUIET_WAIT_SECONDS": str(quiet_wait_seconds),
        }
        return dict(
            failover.handler(event, LambdaContextStandIn(), environ=environ, clients=clients, trino=trino)
        )

    # --- the whole rehearsal ----------------------------------------------------------------
    def run(self, *, clients: int = 1, pause: float = 0.5, quiet_wait_seconds: int = 60) -> Numbers:
        numbers = Numbers()
        stream = QueryStream(self.proxy.url, clients=clients, pause=pause)
        stream.start()
        try:
            time.sleep(2)
            phase = time.monotonic()
            for old, iid in zip(list(self.workers), sorted(self.resources.worker_instance_ids), strict=False):
                numbers.worker_seconds.append(self.roll_worker(old, iid))
            time.sleep(2)  # queries started during the worker phase finish inside it
            numbers.worker_failed = stream.failed_between(phase, time.monotonic())
            phase = time.monotonic()
            numbers.coordinator_seconds = self.roll_coordinators(quiet_wait_seconds=quiet_wait_seconds)
            self._wait(lambda: self._active_workers() >= 2, 900, "workers announced to the new coordinator")
            time.sleep(2)
            numbers.coordinator_failed = stream.failed_between(phase, time.monotonic())
        finally:
            record = stream.stop()
        numbers.queries_ok = len(record.ok)
        numbers.address_down_seconds = self.address_down_seconds
        return numbers


def _answers(node: TrinoNode) -> bool:
    with contextlib.suppress(TrinoError, TrinoUnavailable):
        info = node.admin(timeout=5).info()
        return not info.get("starting", True)
    return False
