"""Lambda entry point of the scale-in function: the worker group's custom termination policy.

Auto Scaling invokes it synchronously whenever it is about to take workers away (a scale-in, an
instance refresh, the maximum instance lifetime, a zone rebalance) and terminates from the
instance ids it answers (functions/scale_in/rules.py). It always answers: an event it cannot read,
an environment it cannot use, or a coordinator that does not answer within the query budget each
give Auto Scaling's own list back (its default order), with a log line saying why, because an
error or a slow answer would only hold a scale-in up without choosing better.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.scale_in.rules import WORK_SQL, EventError, ScaleInRequest, idlest, suggested_ids, work_by_node
from functions.shared.lambda_support import (
    AWS_ERRORS,
    AWS_MAX_ATTEMPTS,
    ConfigError,
    EnvReader,
    TrinoAccess,
    TrinoClients,
    env_reader,
    log_line,
)
from node_agent import aws as node_aws
from node_agent.contract import FunctionEnv
from node_agent.trino.admin import TrinoError, TrinoUnavailable

FUNCTION = "scale_in"
# Auto Scaling waits on the answer, so Trino gets a short budget; past it, the default order.
DEFAULT_QUERY_SECONDS = 2.0


@dataclass(frozen=True)
class ScaleInConfig:
    cluster: str
    coordinator_address: str
    trino: TrinoAccess

    @classmethod
    def from_env(cls, env: EnvReader) -> ScaleInConfig:
        config = cls(
            cluster=env.text(FunctionEnv.CLUSTER),
            coordinator_address=env.text(FunctionEnv.COORDINATOR_ADDRESS),
            trino=TrinoAccess.from_env(
                env,
                timeout_seconds=env.number(
                    FunctionEnv.PROBE_TIMEOUT_SECONDS, DEFAULT_QUERY_SECONDS, minimum=0.5, maximum=30
                ),
            ),
        )
        env.check()
        return config


def handler(
    event: object,
    context: object,
    *,
    environ: Mapping[str, str] | None = None,
    clients: Mapping[str, Any] | None = None,
    trino: TrinoClients | None = None,
) -> dict[str, list[str]]:
    """{"InstanceIDs": [...]}, the response Auto Scaling reads; never raises.

    `environ`, `clients` and `trino` are seams for tests; Lambda passes only event and context.
    """
    try:
        request = ScaleInRequest.parse(event)
    except EventError as exc:
        return _default_order(event, f"the event cannot be read: {exc}")
    try:
        config = ScaleInConfig.from_env(env_reader(environ))
    except ConfigError as exc:
        return _default_order(event, str(exc), group=request.group)
    if trino is None:
        secrets = (clients or {}).get("secretsmanager")
        if secrets is None and config.trino.password_secret_arn:
            secrets = node_aws.client("secretsmanager", max_attempts=AWS_MAX_ATTEMPTS)
        trino = TrinoClients(config.trino, secrets_client=secrets)
    try:
        admin = trino.admin(config.coordinator_address)
        work = work_by_node(admin.query(WORK_SQL, deadline_seconds=config.trino.timeout_seconds).rows)
    except (TrinoError, TrinoUnavailable, ValueError, TypeError, *AWS_ERRORS) as exc:
        return _default_order(
            event, f"Trino could not say which workers are idle: {exc}", group=request.group
        )
    chosen = idlest(request, work)
    taken = set(chosen)
    log_line(
        FUNCTION,
        "scale_in_idlest",
        cluster=config.cluster,
        group=request.group,
        cause=request.cause,
        chosen={iid: list(work.get(iid, (0, 0))) for iid in chosen},
        kept={
            c.instance_id: list(work.get(c.instance_id, (0, 0)))
            for c in request.candidates
            if c.instance_id not in taken
        },
    )
    return {"InstanceIDs": chosen}


def _default_order(event: object, reason: str, *, group: str = "") -> dict[str, list[str]]:
    suggested = suggested_ids(event)
    log_line(
        FUNCTION, "scale_in_default_order", level="warning", group=group, reason=reason, instances=suggested
    )
    return {"InstanceIDs": suggested}
