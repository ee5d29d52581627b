"""The defaults the README documents (from components/settings/keys/) are the parser's defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.settings.keys import KNOWN
from components.settings.model import ClusterSettings, ConfigError
from components.settings.parse import parse
from tests.unit.stack_config import VALID

MINIMAL = VALID

# key -> where its value lands in the settings
READ: dict[str, Callable[[ClusterSettings], Any]] = {
    "coordinatorInstanceType": lambda s: s.coordinator.instance_type,
    "coordinatorCount": lambda s: s.coordinator.count,
    "workerMinSize": lambda s: s.workers.min_size,
    "workerMaxSize": lambda s: s.workers.max_size,
    "workerSpotPercentage": lambda s: s.workers.spot_percentage,
    "workerOnDemandBaseCapacity": lambda s: s.workers.on_demand_base_capacity,
    "trinoVersion": lambda s: s.trino.version,
    "rootVolumeSizeGb": lambda s: s.volume.size_gb,
    "rootVolumeType": lambda s: s.volume.type,
    "metastore": lambda s: s.trino.metastore,
    "spillEnabled": lambda s: s.trino.spill_enabled,
    "retryPolicy": lambda s: s.trino.retry_policy,
    "maxDrainMinutes": lambda s: s.lifecycle.max_drain_seconds // 60,
    "lifecycleHeartbeatSeconds": lambda s: s.lifecycle.heartbeat_timeout_seconds,
    "scalingCpuTargetPercent": lambda s: s.scaling.cpu_target_percent,
    "scalingQueuedQueriesThreshold": lambda s: s.scaling.queued_queries_threshold,
    "scalingMemoryReservedPercent": lambda s: s.scaling.memory_reserved_percent,
    "scalingStepWorkers": lambda s: s.scaling.step_workers,
    "scalingWarmupSeconds": lambda s: s.scaling.warmup_seconds,
    "failoverFailedProbes": lambda s: s.health.failover_failed_probes,
    "failoverProbeIntervalSeconds": lambda s: s.health.failover_probe_interval_seconds,
    "workerHealthGraceSeconds": lambda s: s.health.worker_grace_seconds,
    "workerHealthFailedChecks": lambda s: s.health.worker_failed_checks,
    "workerHealthMaxUnhealthyFraction": lambda s: s.health.worker_max_unhealthy_fraction,
    "failedQueriesAlarmThreshold": lambda s: s.monitoring.failed_queries_threshold,
    "rolloutMinHealthyPercent": lambda s: s.rollout.min_healthy_percent,
    "rolloutInstanceWarmupSeconds": lambda s: s.rollout.instance_warmup_seconds,
    "rolloutCheckpointDelaySeconds": lambda s: s.rollout.checkpoint_delay_seconds,
    "rolloutAutoRollback": lambda s: s.rollout.auto_rollback,
    "rolloutQuietWaitSeconds": lambda s: s.rollout.quiet_wait_seconds,
    "rolloutStandbyWaitMinutes": lambda s: s.rollout.standby_wait_minutes,
}


def _literal(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@pytest.mark.parametrize("key", sorted(READ))
def test_documented_default_is_the_parsed_default(key: str) -> None:
    settings = parse("test", MINIMAL)
    assert READ[key](settings) == _literal(KNOWN[key].default)


def test_documented_index_prefix_is_the_default_with_a_url() -> None:
    settings = parse("test", {**MINIMAL, "presto-on-aws:elasticsearchUrl": "https://es:9200"})
    assert settings.elasticsearch is not None
    assert settings.elasticsearch.index_prefix == KNOWN["elasticsearchIndexPrefix"].default


def test_documented_tls_default_is_on() -> None:
    without = {k: v for k, v in MINIMAL.items() if k != "presto-on-aws:tls"}
    with pytest.raises(ConfigError, match="tlsCertificateSecretArn: missing required key: tls is true"):
        parse("test", without)
    assert KNOWN["tls"].default == "true"
