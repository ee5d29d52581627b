"""Fixtures for the real-component integration suite (see tools/harness/ for how each part runs).

Session-scoped servers are started on first use and stopped at the end of the run, also when a
test fails (fixture finalizers, with an atexit hook in tools.harness.processes as the last resort).
Every server listens on 127.0.0.1 on a port picked at runtime.

- trino_cluster: a ready coordinator + 2 workers (TPC-H works, both workers active).
- trino_factory: start more clusters or nodes with custom settings; all stopped at the end.
- trino_versions: one such factory per Trino version (476 from its tarball, 483 assembled).
- each_trino: parametrised over SUITE_VERSIONS; 476 is trino_cluster itself, 483 a coordinator +
  2 workers per module. The flows users run on either version take it instead of
  trino_cluster (drain, worker health; the failover rig takes trino_versions).
- elasticsearch: one single-node server; `.stop()` / `.start()` keep its port and data.
- opensearch: the same for OpenSearch 2.19 (the query-log tests run against both).
- prometheus_factory: `start(targets, scrape_interval="1s")` -> Prometheus with `.query(promql)`.
- moto_server: moto in server mode; `aws_cluster` resets it and creates the cluster's resources.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness.elasticsearch import Elasticsearch
from tools.harness.moto import ClusterResources, MotoServer
from tools.harness.opensearch import OpenSearch
from tools.harness.prometheus import PrometheusFactory
from tools.harness.trino import TrinoCluster, TrinoFactory
from tools.harness.versions import SUITE_VERSIONS, TrinoVersions


@pytest.fixture(scope="session")
def harness_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("harness")


@pytest.fixture(scope="session")
def trino_factory(harness_dir: Path) -> Iterator[TrinoFactory]:
    factory = TrinoFactory(harness_dir / "trino")
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def trino_versions(harness_dir: Path, trino_factory: TrinoFactory) -> Iterator[TrinoVersions]:
    versions = TrinoVersions(harness_dir, trino_factory)
    try:
        yield versions
    finally:
        versions.stop_all()


@pytest.fixture(scope="session")
def trino_cluster(trino_factory: TrinoFactory) -> Iterator[TrinoCluster]:
    """The shared cluster. Tests that stop or drain a node must add_worker() and drain that one."""
    cluster = trino_factory.start_cluster(workers=2)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def trino483_cluster(trino_versions: TrinoVersions) -> Iterator[TrinoCluster]:
    """A module's 483 cluster, under the same rule as trino_cluster. Per module, not per session,
    so that its three JVMs do not stay up through the modules that need neither (the rollout)."""
    cluster = trino_versions.factory(483).start_cluster(workers=2)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module", params=SUITE_VERSIONS, ids=lambda v: f"trino{v}")
def each_trino(request: pytest.FixtureRequest) -> TrinoCluster:
    """The cluster of each suite version (pytest runs a module's tests of one version together)."""
    name = "trino_cluster" if request.param == 476 else f"trino{request.param}_cluster"
    return request.getfixturevalue(name)


def _running(server: Elasticsearch) -> Iterator[Elasticsearch]:
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def elasticsearch(harness_dir: Path) -> Iterator[Elasticsearch]:
    yield from _running(Elasticsearch(harness_dir / "elasticsearch"))


@pytest.fixture(scope="session")
def opensearch(harness_dir: Path) -> Iterator[Elasticsearch]:
    # 2.19 by default; PRESTO_ON_AWS_OPENSEARCH_VERSION=3.6.0 runs the same tests against 3.x.
    version = os.environ.get("PRESTO_ON_AWS_OPENSEARCH_VERSION") or None
    yield from _running(OpenSearch(harness_dir / "opensearch", version=version))


@pytest.fixture(scope="session")
def prometheus_factory(harness_dir: Path) -> Iterator[PrometheusFactory]:
    factory = PrometheusFactory(harness_dir / "prometheus")
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def moto_server(harness_dir: Path) -> Iterator[MotoServer]:
    server = MotoServer(harness_dir / "moto")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_cluster(moto_server: MotoServer) -> ClusterResources:
    """A clean moto with the cluster's resources (VPC, subnets, coordinator ENI, groups, hook)."""
    moto_server.reset()
    return moto_server.create_cluster_resources()
