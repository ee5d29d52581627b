"""A coordinator pair as production runs it: two coordinators, workers, and one address for all.

Rendered exactly as a stack renders them (`node-scheduler.include-coordinator=false`): every
node's `discovery.uri` is the coordinator address, and the address is an `AddressStandIn` that
follows the ENI in moto, so only the failover function's real attach and detach calls decide
which coordinator the workers and the users reach. moto's coordinator instances are played by the
local coordinators (instance id -> TrinoNode); the failover function reaches each one at its own
port through TrinoClients' resolver, as it reaches each instance's private address in AWS.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from node_agent import render
from node_agent.contract import NodeSettings, Role
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable
from tools.harness.address import AddressStandIn
from tools.harness.trino import (
    QUERY_USER,
    SMOKE_QUERY,
    TrinoFactory,
    default_settings,
    harness_secrets,
)
from tools.harness.trino_node import TrinoNode

QUERY_DEADLINE_SECONDS = 60.0


@dataclass
class CoordinatorPair:
    factory: TrinoFactory
    settings: NodeSettings
    secrets: render.Secrets
    address: AddressStandIn
    coordinators: dict[str, TrinoNode]  # moto instance id -> the local coordinator playing it
    workers: list[TrinoNode] = field(default_factory=list)
    name: str = "pair"
    # Node directories are named by these: a replacement must never reuse a leaving node's etc/ and data/.
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def admin(self, timeout: float = 10.0) -> TrinoAdmin:
        """A user's client: it knows only the address."""
        return TrinoAdmin(self.address.url, user=QUERY_USER, timeout=timeout)

    def serves(self, deadline: float = QUERY_DEADLINE_SECONDS) -> bool:
        """Whether a TPC-H query through the address succeeds (given `deadline` seconds to finish).

        Measured on this shared 2-core machine: a tpch.tiny query can take 5-10 s under load, so
        a short deadline would cancel queries that were being served (and call the address down).
        """
        try:
            return self.admin().query(SMOKE_QUERY, deadline_seconds=deadline).rows == [[25]]
        except (TrinoError, TrinoUnavailable):
            return False

    def wait_serving(self, timeout: float, *, since: float | None = None) -> float:
        """Seconds from `since` (default: now) until a query through the address succeeded."""
        start = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.serves():
                return time.monotonic() - start
            time.sleep(0.5)
        raise TimeoutError(f"the address {self.address.url} served no query within {timeout:.0f}s")

    def wait_joined(self, holder: TrinoNode, timeout: float, *, since: float | None = None) -> float:
        """Seconds from `since` until `holder` counts every worker active (its UI stats, no query)."""
        start = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        admin = holder.admin(timeout=5)
        while time.monotonic() < deadline:
            try:
                if int(admin.stats().get("activeWorkers", 0)) >= len(self.workers):
                    return time.monotonic() - start
            except (TrinoError, TrinoUnavailable):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{holder.name} did not count {len(self.workers)} workers within {timeout:.0f}s")

    def add_worker(self) -> TrinoNode:
        worker = self.factory.start_node(
            None,
            Role.WORKER,
            settings=self.settings,
            secrets=self.secrets,
            cluster_name=f"{self.name}-w{next(self.numbers)}",
            discovery_uri=self.address.url,
        )
        self.workers.append(worker)
        return worker

    def add_coordinator(self, instance_id: str) -> TrinoNode:
        """Start (or restart, as a replacement instance would boot) the coordinator of `instance_id`."""
        node = self.factory.start_node(
            None,
            Role.COORDINATOR,
            settings=self.settings,
            secrets=self.secrets,
            cluster_name=f"{self.name}-{instance_id[-6:]}-{next(self.numbers)}",
            discovery_uri=self.address.url,
        )
        self.coordinators[instance_id] = node
        self.address.ports[instance_id] = node.http_port
        return node

    def wait_started(self, nodes: Sequence[TrinoNode], timeout: float = 240.0) -> None:
        """Until every node answers /v1/info with starting=false (they need no coordinator for it)."""
        deadline = time.monotonic() + timeout
        waiting = list(nodes)
        while waiting:
            for node in list(waiting):
                if not node.running():
                    raise RuntimeError(f"{node.name} exited while starting:\n{node.log_tail()}")
                try:
                    if not node.admin(timeout=5).info().get("starting", True):
                        waiting.remove(node)
                except (TrinoError, TrinoUnavailable):
                    pass
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"not started after {timeout:.0f}s: {[n.name for n in waiting]}")
            time.sleep(1)

    def holder_node(self) -> TrinoNode | None:
        holder = self.address.holder
        return self.coordinators.get(holder) if holder else None

    def stop(self) -> None:
        for node in [*self.workers, *self.coordinators.values()]:
            resume(node)
            node.process.terminate()
        for node in [*self.workers, *self.coordinators.values()]:
            node.stop(timeout=15)
        self.address.close()


def start_pair(
    factory: TrinoFactory,
    instance_ids: Sequence[str],
    holder: Callable[[], str | None],
    *,
    workers: int = 1,
    settings: NodeSettings | None = None,
    name: str = "pair",
) -> CoordinatorPair:
    """Boot every node at once, while the address may still be attached to nobody (a first deploy)."""
    pair = CoordinatorPair(
        factory=factory,
        settings=settings or default_settings(factory.version),
        secrets=harness_secrets(),
        address=AddressStandIn(holder, {}),
        coordinators={},
        name=name,
    )
    try:
        for iid in instance_ids:
            pair.add_coordinator(iid)
        for _ in range(workers):
            pair.add_worker()
    except BaseException:
        pair.stop()
        raise
    return pair


def pause(node: TrinoNode) -> None:
    """SIGSTOP: the JVM keeps its port (the kernel still accepts) and answers nothing, like a long GC."""
    os.kill(node.process.pid, signal.SIGSTOP)


def resume(node: TrinoNode) -> None:
    if node.running():
        os.kill(node.process.pid, signal.SIGCONT)
