"""Runs of the real program under Pulumi mocks, shared by the unit tests.

Each configuration is run once per session (a run takes about a second) and every test reads
the recorded graph. The unusual configurations are the dev and prod stack files with a few keys
changed, the way a user would change them; None removes a key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from tools.plan.mocks import Plan, run_program

CONFIGS: dict[str, tuple[str, Mapping[str, object]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    # The 10 s queue metric and alarm.
    "dev-fast-queue": ("dev", {"scalingFastQueueMetric": True}),
    # One coordinator, every worker on spot, AWS Glue instead of a Hive metastore, no TLS.
    "dev-glue-spot": ("dev", {"metastore": "glue", "hiveMetastoreUri": None, "workerSpotPercentage": 100}),
    # One instance type, all on demand: no mixed-instances policy at all, so a warm pool; no query log.
    "prod-plain": (
        "prod",
        {
            "workerInstanceTypes": ["r6i.4xlarge"],
            "workerWarmPool": 2,
            "workerSpotPercentage": 0,
            "workerOnDemandBaseCapacity": 0,
            "elasticsearchUrl": None,
            "elasticsearchIndexPrefix": None,
            "elasticsearchUsername": None,
            "elasticsearchPasswordSecretArn": None,
            "queryLogBackend": None,
            "queryLogRetentionDays": None,
            "coordinatorPrivateIp": None,
            "retryPolicy": "NONE",
            "exchangeBucket": None,
        },
    ),
}
ALL = tuple(CONFIGS)

_cache: dict[str, Plan] = {}


def plan_of(config: str, configs: Mapping[str, tuple[str, Mapping[str, object]]] = CONFIGS) -> Plan:
    """The recorded run of `configs[config]`, run once per session."""
    if config not in _cache:
        stack, overrides = configs[config]
        _cache[config] = run_program(stack, overrides)
    return _cache[config]


@pytest.fixture
def plan_for() -> Callable[..., Plan]:
    return plan_of


@pytest.fixture(params=ALL)
def any_plan(request: pytest.FixtureRequest) -> Plan:
    return plan_of(request.param)
