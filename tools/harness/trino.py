"""Local Trino clusters: a coordinator and workers on loopback, each booted from rendered config.

Every node's etc/ comes from `node_agent.render.render`, the renderer real nodes use, so a test
that boots a cluster here also proves that what we render for production boots. Nodes share one
unpacked install (see `tools.harness.downloads.trino_install`) and each gets its own etc/, data dir and
ports. Ready means what a user needs: a TPC-H query succeeds and the coordinator counts the
expected number of active workers (`starting=false` alone is not enough, see trino-facts §2).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import secrets as pysecrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from node_agent import etc_writer, render
from node_agent.contract import MANAGEMENT_USER, NodeSettings, Role
from node_agent.trino.admin import QueryResult, TrinoAdmin, TrinoError, TrinoUnavailable
from tools.harness import downloads
from tools.harness.assembled import assembled_install
from tools.harness.ports import free_port
from tools.harness.processes import nofile_limit_problem
from tools.harness.trino_node import TrinoNode, TrinoStartError, fail_if_exited, java_home, launch_node

LAST_TARBALL = 476  # the newest trino-server tarball on Maven Central
MIN_OPEN_FILES = 4096
NODE_HEAP_BYTES = 1 << 30  # about 1 GB per node: six helpers share 24 GB
READY_TIMEOUT_SECONDS = 240.0
SMOKE_QUERY = "SELECT count(*) FROM tpch.tiny.nation"
QUERY_USER = "harness"
HARNESS_ACCOUNT = "123456789012"


def default_settings(trino_version: int = 476, **changes: object) -> NodeSettings:
    """The node settings a harness cluster uses unless a test passes its own.

    A short graceful-shutdown grace period (the default is two minutes, and a drain waits it
    twice), still above the coordinator's 5 s node-state poll so that no new task lands on a
    draining worker; the tpch and memory catalogs; the loopback coordinator.
    """
    base = NodeSettings(
        cluster="harness",
        environment="harness",
        region="us-east-1",
        trino_version=trino_version,
        coordinator_address="127.0.0.1",
        shared_secret_arn=f"arn:aws:secretsmanager:us-east-1:{HARNESS_ACCOUNT}:secret:harness-shared",
        catalogs={"tpch": {"connector.name": "tpch"}, "memory": {"connector.name": "memory"}},
        config_overrides={"shutdown.grace-period": "10s"},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@dataclass
class TrinoCluster:
    """A coordinator and its workers, all started by one TrinoFactory."""

    factory: TrinoFactory
    name: str
    settings: NodeSettings
    secrets: render.Secrets
    coordinator: TrinoNode
    workers: list[TrinoNode] = field(default_factory=list)
    querylog_port: int | None = None
    worker_numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def url(self) -> str:
        return self.coordinator.url

    @property
    def nodes(self) -> list[TrinoNode]:
        return [self.coordinator, *self.workers]

    def admin(self, node: TrinoNode | None = None, *, user: str = MANAGEMENT_USER) -> TrinoAdmin:
        return (node or self.coordinator).admin(user=user)

    def query(self, sql: str, *, user: str = QUERY_USER, deadline_seconds: float = 120.0) -> QueryResult:
        return self.admin(user=user).query(sql, deadline_seconds=deadline_seconds)

    def active_worker_ids(self) -> set[str]:
        """Node ids the coordinator counts as active workers right now."""
        result = self.admin().query(
            "SELECT node_id FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'"
        )
        return {str(row[0]) for row in result.rows}

    def node_states(self) -> dict[str, str]:
        result = self.admin().query("SELECT node_id, state FROM system.runtime.nodes")
        return {str(row[0]): str(row[1]) for row in result.rows}

    def add_worker(
        self,
        *,
        settings: NodeSettings | None = None,
        wait: bool = True,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> TrinoNode:
        """Start one more worker; with `wait`, return once the coordinator counts it active."""
        worker = self.factory.start_node(
            self, Role.WORKER, settings=settings or self.settings, querylog_port=self.querylog_port
        )
        self.workers.append(worker)
        if wait:
            self.factory.wait_until_active(self, [worker], timeout=timeout)
        return worker

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        running = [w for w in self.workers if w.running()]
        self.factory.wait_ready(self, expected_workers=len(running), timeout=timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every node: SIGTERM to all at once, then wait for each (SIGKILL after `timeout`)."""
        for node in self.nodes:
            node.process.terminate()
        for node in reversed(self.nodes):
            node.stop(timeout)


class TrinoFactory:
    """Starts Trino clusters and nodes under one base directory and stops them all at the end."""

    def __init__(
        self, base_dir: Path | None = None, *, version: int = 476, install: Path | None = None
    ) -> None:
        problem = nofile_limit_problem(MIN_OPEN_FILES)
        if problem:
            raise TrinoStartError(
                f"Trino refuses to start with fewer than {MIN_OPEN_FILES} open files: {problem}"
            )
        self.version = version
        if install is None:
            # Maven Central's server tarball stops at 476; later releases are assembled from jars.
            install = (
                downloads.trino_install(version) if version <= LAST_TARBALL else assembled_install(version)
            )
        self.install = install
        self.java_home = java_home()
        self._own_base = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="presto-on-aws-trino-"))
        self.clusters: list[TrinoCluster] = []
        self._counter = itertools.count(1)
        self._node_ids = itertools.count(0)

    # --- clusters ---------------------------------------------------------------------------
    def start_cluster(
        self,
        workers: int = 2,
        *,
        settings: NodeSettings | None = None,
        secrets: render.Secrets | None = None,
        querylog_port: int | None = None,
        include_coordinator: bool = False,
        wait: bool = True,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> TrinoCluster:
        """A coordinator and `workers` workers, all rendered from the same settings.

        With `include_coordinator` the coordinator also runs tasks, so `workers=0` gives a lone
        coordinator that can answer queries (what failover tests need).
        """
        settings = settings or default_settings(self.version)
        if include_coordinator:
            overrides = {**settings.config_overrides, "node-scheduler.include-coordinator": "true"}
            settings = dataclasses.replace(settings, config_overrides=overrides)
        number = next(self._counter)
        cluster_secrets = secrets if secrets is not None else harness_secrets()
        coordinator = self.start_node(
            None,
            Role.COORDINATOR,
            settings=settings,
            secrets=cluster_secrets,
            querylog_port=querylog_port,
            cluster_name=f"c{number}",
        )
        cluster = TrinoCluster(
            factory=self,
            name=f"c{number}",
            settings=settings,
            secrets=cluster_secrets,
            coordinator=coordinator,
            querylog_port=querylog_port,
        )
        self.clusters.append(cluster)
        try:
            for _ in range(workers):
                cluster.workers.append(
                    self.start_node(cluster, Role.WORKER, settings=settings, querylog_port=querylog_port)
                )
            if wait:
                self.wait_ready(cluster, expected_workers=workers, timeout=timeout)
        except BaseException:
            cluster.stop(timeout=10)
            raise
        return cluster

    def stop_all(self) -> None:
        for cluster in reversed(self.clusters):
            cluster.stop(timeout=15)
        if self._own_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # --- nodes ------------------------------------------------------------------------------
    def start_node(
        self,
        cluster: TrinoCluster | None,
        role: Role,
        *,
        settings: NodeSettings,
        secrets: render.Secrets | None = None,
        querylog_port: int | None = None,
        cluster_name: str | None = None,
        discovery_uri: str | None = None,
    ) -> TrinoNode:
        """Render one node's etc/ with the project's renderer and launch it.

        `discovery_uri` replaces the cluster's coordinator URL (a coordinator pair's nodes all
        announce to the coordinator address, see tools/harness/coordinator_pair.py).
        """
        cluster_name = cluster_name or (cluster.name if cluster else "c0")
        index = next(cluster.worker_numbers) if cluster and role is Role.WORKER else 0
        name = f"{cluster_name}-{role.value}{index if role is Role.WORKER else ''}"
        node_dir = self.base_dir / name
        etc_dir, data_dir = node_dir / "etc", node_dir / "data"
        http_port = free_port()
        discovery = discovery_uri or (cluster.coordinator.url if cluster else f"http://127.0.0.1:{http_port}")
        layout = render.Layout(
            etc_dir=etc_dir,
            data_dir=data_dir,
            http_port=http_port,
            https_port=free_port(),
            querylog_port=querylog_port or free_port(),
            discovery_uri=discovery,
        )
        facts = render.NodeFacts(
            instance_id=f"i-{pysecrets.token_hex(8)}{next(self._node_ids) % 16:x}",
            instance_type="harness.local",
            private_ip="127.0.0.1",
            availability_zone="us-east-1a",
            memory_bytes=_memory_for_heap(render.heap_bytes, NODE_HEAP_BYTES),
        )
        node_secrets = secrets or (cluster.secrets if cluster else harness_secrets())
        files = render.render(settings, facts, role, layout, node_secrets)
        etc_writer.write_atomically(files, etc_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return self.launch(name, role, etc_dir=etc_dir, data_dir=data_dir, http_port=http_port)

    def launch(self, name: str, role: Role, *, etc_dir: Path, data_dir: Path, http_port: int) -> TrinoNode:
        """Start this factory's install on an already written etc/ (see trino_node.launch_node)."""
        return launch_node(
            self.install,
            self.java_home,
            self.version,
            name,
            role,
            etc_dir=etc_dir,
            data_dir=data_dir,
            http_port=http_port,
        )

    # --- readiness --------------------------------------------------------------------------
    def wait_ready(self, cluster: TrinoCluster, *, expected_workers: int, timeout: float) -> None:
        """Until a TPC-H query succeeds and the coordinator counts `expected_workers` active workers."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            fail_if_exited(cluster.nodes)
            try:
                active = cluster.active_worker_ids()
                if len(active) >= expected_workers:
                    rows = cluster.query(SMOKE_QUERY, deadline_seconds=30).rows
                    if rows == [[25]]:
                        return
                    last = f"smoke query returned {rows}"
                else:
                    last = f"{len(active)} of {expected_workers} workers active"
            except (TrinoError, TrinoUnavailable) as exc:
                last = str(exc)
            time.sleep(1)
        raise TrinoStartError(
            f"cluster {cluster.name} not ready after {timeout:.0f}s ({last}); coordinator log:\n"
            + cluster.coordinator.log_tail()
        )

    def wait_until_active(self, cluster: TrinoCluster, nodes: list[TrinoNode], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        wanted = {n.node_id for n in nodes}
        last = "no answer yet"
        while time.monotonic() < deadline:
            fail_if_exited(nodes)
            try:
                missing = wanted - cluster.active_worker_ids()
                if not missing:
                    return
                last = f"not active yet: {', '.join(sorted(missing))}"
            except (TrinoError, TrinoUnavailable) as exc:
                last = str(exc)
            time.sleep(1)
        raise TrinoStartError(f"workers not active after {timeout:.0f}s ({last})")


def harness_secrets() -> render.Secrets:
    """Fresh secrets for one cluster (the shared secret must match on all its nodes)."""
    return render.Secrets(shared_secret=pysecrets.token_urlsafe(32))


def _memory_for_heap(heap_bytes: Callable[[int], int], wanted: int) -> int:
    """The smallest instance memory (in 256 MiB steps) for which the renderer sizes a `wanted` heap."""
    step = 256 << 20
    for memory in range(step, 64 << 30, step):
        with contextlib.suppress(ValueError):  # RenderError: too small for any heap
            if heap_bytes(memory) >= wanted:
                return memory
    raise TrinoStartError(f"the renderer never sizes a heap of {wanted} bytes")


def etc_files(etc_dir: Path) -> Mapping[str, str]:
    """What a node's etc/ holds, relative path -> text (for tests and `rehearse --show`)."""
    return {str(p.relative_to(etc_dir)): p.read_text() for p in sorted(etc_dir.rglob("*")) if p.is_file()}
