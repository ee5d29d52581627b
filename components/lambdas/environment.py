"""The environment each function runs with (contract.FunctionEnv names), from the settings.

Values only (Outputs where an id is not known yet); no resources. Each function gets exactly the
variables it reads, so a look at the Lambda console says how it is configured.
"""

from __future__ import annotations

import pulumi

from components.coordinators import COORDINATOR_GRACE_SECONDS, coordinator_asg_name
from components.rollout import switchover_hook_name
from components.settings.model import ClusterSettings
from components.workers import worker_asg_name
from node_agent.contract import TRINO_HTTP_PORT, TRINO_HTTPS_PORT, FunctionEnv

# One failover invocation probes for most of its scheduled minute, then hands over to the next.
# 45 s, not 55: a failure streak still open at the window's end is followed to its verdict
# (up to UNRESPONSIVE_SECONDS more), and should end before the next scheduled run starts.
PROBE_WINDOW_SECONDS = 45
# The address leaves a holder only after it failed this long: longer than the pauses a busy JVM
# takes (stop-the-world GC, a stalled disk), measured by bench/failover.py to ride out 15 s.
UNRESPONSIVE_SECONDS = 20
FAILOVER_PROBE_TIMEOUT_SECONDS = 3  # a coordinator that needs longer to answer /v1/info is failing
HEALTH_QUERY_TIMEOUT_SECONDS = 10  # a query of system.runtime.nodes on a busy coordinator
# Auto Scaling waits on the scale-in function's answer: past this, Auto Scaling's own order.
SCALE_IN_QUERY_SECONDS = 2

Environment = dict[str, pulumi.Input[str]]


def _common(settings: ClusterSettings, eni_id: pulumi.Input[str]) -> Environment:
    """What both functions read: the cluster and the coordinator address they probe through."""
    return {
        FunctionEnv.CLUSTER.value: settings.name,
        FunctionEnv.COORDINATOR_ENI_ID.value: eni_id,
    }


def failover_environment(
    settings: ClusterSettings,
    eni_id: pulumi.Input[str],
    management_password_arn: pulumi.Input[str] | None,
    shared_secret_arn: pulumi.Input[str],
) -> Environment:
    """The probe calls each coordinator's admin endpoints at its own private address; with passwords on,
    Trino takes no identity over HTTP, so it goes over HTTPS as the management user, like the
    worker-health function (the certificate is checked for the ENI's address, see the handler).
    The shared secret signs the internal calls that hand the workers to a switchover's target."""
    health = settings.health
    return {
        **_common(settings, eni_id),
        FunctionEnv.COORDINATOR_ASG_NAME.value: coordinator_asg_name(settings.name),
        **health_check_access(settings, management_password_arn),
        FunctionEnv.PROBE_TIMEOUT_SECONDS.value: str(FAILOVER_PROBE_TIMEOUT_SECONDS),
        FunctionEnv.FAILED_PROBES.value: str(health.failover_failed_probes),
        FunctionEnv.PROBE_INTERVAL_SECONDS.value: str(health.failover_probe_interval_seconds),
        FunctionEnv.PROBE_WINDOW_SECONDS.value: str(PROBE_WINDOW_SECONDS),
        FunctionEnv.UNRESPONSIVE_SECONDS.value: str(UNRESPONSIVE_SECONDS),
        FunctionEnv.GRACE_PERIOD_SECONDS.value: str(COORDINATOR_GRACE_SECONDS),
        FunctionEnv.SHARED_SECRET_ARN.value: shared_secret_arn,
        FunctionEnv.SWITCHOVER_HOOK_NAME.value: switchover_hook_name(settings.name),
        FunctionEnv.SWITCHOVER_QUIET_WAIT_SECONDS.value: str(settings.rollout.quiet_wait_seconds),
        FunctionEnv.SWITCHOVER_STANDBY_WAIT_SECONDS.value: str(settings.rollout.standby_wait_minutes * 60),
    }


def health_check_access(
    settings: ClusterSettings, management_password_arn: pulumi.Input[str] | None
) -> Environment:
    """How the worker-health function reaches the coordinator for its node query."""
    if not settings.security.health_check_over_https or management_password_arn is None:
        return {FunctionEnv.TRINO_SCHEME.value: "http", FunctionEnv.TRINO_PORT.value: str(TRINO_HTTP_PORT)}
    access: Environment = {
        FunctionEnv.TRINO_SCHEME.value: "https",
        FunctionEnv.TRINO_PORT.value: str(TRINO_HTTPS_PORT),
        FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN.value: management_password_arn,
    }
    if settings.security.ca_bundle:
        access[FunctionEnv.CA_BUNDLE.value] = settings.security.ca_bundle
    return access


def worker_health_environment(
    settings: ClusterSettings, eni_id: pulumi.Input[str], management_password_arn: pulumi.Input[str] | None
) -> Environment:
    health = settings.health
    return {
        **_common(settings, eni_id),
        FunctionEnv.WORKER_ASG_NAME.value: worker_asg_name(settings.name),
        **health_check_access(settings, management_password_arn),
        FunctionEnv.PROBE_TIMEOUT_SECONDS.value: str(HEALTH_QUERY_TIMEOUT_SECONDS),
        FunctionEnv.FAILED_PROBES.value: str(health.worker_failed_checks),
        FunctionEnv.GRACE_PERIOD_SECONDS.value: str(health.worker_grace_seconds),
        FunctionEnv.MAX_UNHEALTHY_FRACTION.value: f"{health.worker_max_unhealthy_fraction:g}",
    }


def scale_in_environment(
    settings: ClusterSettings, address: pulumi.Input[str], management_password_arn: pulumi.Input[str] | None
) -> Environment:
    """The scale-in function asks the coordinator at its fixed address (the ENI's), like the health check."""
    return {
        FunctionEnv.CLUSTER.value: settings.name,
        FunctionEnv.COORDINATOR_ADDRESS.value: address,
        **health_check_access(settings, management_password_arn),
        FunctionEnv.PROBE_TIMEOUT_SECONDS.value: str(SCALE_IN_QUERY_SECONDS),
    }
