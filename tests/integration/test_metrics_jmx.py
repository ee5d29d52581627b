"""The JMX source (PrestoSQL 330 to Trino 406 have no /metrics) against a real Trino 476.

476 serves both /metrics and /v1/jmx/mbean (until 479) from the same beans, so the counters the
agent reads over JMX for old releases are checked here against the ones it reads from /metrics:
same bean names, same attribute names, same JSON shape as the releases that have no /metrics.
"""

from __future__ import annotations

from typing import Any

import pytest

from node_agent.metrics.sources import JMX, OPENMETRICS, parse_openmetrics, read_jmx
from node_agent.trino import versions

pytestmark = pytest.mark.integration


def test_jmx_gives_the_counters_metrics_gives_on_a_real_trino(trino_cluster: Any) -> None:
    admin = trino_cluster.coordinator.admin()
    admin.query("SELECT count(*) FROM tpch.tiny.nation")  # at least one completed query
    jmx, domain = read_jmx(admin, versions.jmx_domains(476))
    metrics = {OPENMETRICS[k]: v for k, v in parse_openmetrics(admin.metrics(list(OPENMETRICS))).items()}
    assert domain == "trino"
    assert set(jmx) == {name for attributes in JMX.values() for name in attributes.values()}
    assert jmx["completed_queries"] >= 1
    assert jmx["memory_total_bytes"] > 0
    for name in ("completed_queries", "failed_queries", "memory_total_bytes"):
        assert abs(jmx[name] - metrics[name]) <= 2, name  # read a moment apart


def test_a_prestosql_domain_that_is_absent_falls_back_to_the_other(trino_cluster: Any) -> None:
    jmx, domain = read_jmx(trino_cluster.coordinator.admin(), ("presto", "trino"))
    assert domain == "trino" and jmx["memory_total_bytes"] > 0
