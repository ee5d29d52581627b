"""Lambda entry point of the worker-health function, run on a schedule (one check per run).

The zip holds this folder's modules at its root next to the node_agent package, hence the
top-level import of worker_health_run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.shared.lambda_support import (
    AWS_ERRORS,
    TriggerKind,
    TrinoClients,
    aws_error_fields,
    log_line,
    start_invocation,
)
from functions.worker_health.run import FUNCTION, WorkerHealthConfig, WorkerHealthRun

# Only a schedule (or a person invoking it by hand) counts a check: an extra run on some other
# event would count one failure twice and replace a worker early.
_RUN_ON = (TriggerKind.SCHEDULE, TriggerKind.MANUAL)


def handler(
    event: object,
    context: object,
    *,
    environ: Mapping[str, str] | None = None,
    clients: Mapping[str, Any] | None = None,
    trino: TrinoClients | None = None,
) -> dict[str, Any]:
    """Returns a summary; never raises for a bad event or an AWS refusal (both are logged).

    `environ`, `clients` and `trino` are seams for tests; Lambda passes only event and context.
    """
    started = start_invocation(
        FUNCTION,
        event,
        run_on=_RUN_ON,
        read_config=WorkerHealthConfig.from_env,
        environ=environ,
        clients=clients,
    )
    if isinstance(started, dict):
        return started
    trigger, config, aws = started.trigger, started.config, started.aws
    trino_clients = trino or TrinoClients(config.trino, secrets_client=aws["secretsmanager"])
    run = WorkerHealthRun(
        config,
        ec2=aws["ec2"],
        autoscaling=aws["autoscaling"],
        cloudwatch=aws["cloudwatch"],
        admin_for=trino_clients.admin,
        trigger=trigger.kind.value,
    )
    try:
        result = run.run()
    except AWS_ERRORS as exc:
        fields = aws_error_fields(exc)
        log_line(
            FUNCTION,
            "aws_error",
            cluster=config.cluster,
            reason="stopped; nothing further marked, the next run looks again",
            **fields,
        )
        return {"outcome": "aws_error", **fields}
    except LookupError as exc:
        log_line(FUNCTION, "misconfigured", cluster=config.cluster, reason=str(exc))
        return {"outcome": "misconfigured", "reason": str(exc)}
    return {"outcome": result.outcome, "marked": result.marked}
