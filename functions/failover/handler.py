"""Lambda entry point of the coordinator failover function.

Started every minute by a schedule and at once by the coordinator group's launch and terminate
events; each run watches for most of its minute, and sees a stopping or terminated holder in
DescribeInstances within one probe interval. The stack declares no EC2 state-change rule (it
cannot be filtered to this cluster); an EC2 state-change event sent by hand is still understood,
and one about an instance that is not this cluster's coordinator is logged and ignored.

The zip holds this folder's modules at its root next to the node_agent package, hence the
top-level imports of failover_watch and failover_aws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from functions.failover.aws_io import observe
from functions.failover.rules import Probe
from functions.failover.switchover import Switchover, SwitchoverConfig
from functions.failover.watch import FUNCTION, FailoverConfig, FailoverWatch, probe_coordinator
from functions.shared.lambda_support import (
    AWS_ERRORS,
    ConfigError,
    TriggerKind,
    TrinoClients,
    aws_error_fields,
    env_reader,
    log_line,
    remaining_seconds,
    start_invocation,
)
from node_agent.trino.discovery import hand_over_workers

_RUN_ON = (TriggerKind.SCHEDULE, TriggerKind.EC2_STATE_CHANGE, TriggerKind.AUTOSCALING, TriggerKind.MANUAL)
_NO_CONTEXT_SECONDS = 90.0  # remaining time assumed when run outside Lambda (a shell, a test)


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
        FUNCTION, event, run_on=_RUN_ON, read_config=FailoverConfig.from_env, environ=environ, clients=clients
    )
    if isinstance(started, dict):
        return started
    trigger, config, aws = started.trigger, started.config, started.aws
    label = f"{trigger.kind.value}: {trigger.detail}" if trigger.detail else trigger.kind.value

    try:
        trino_clients = trino or probe_clients(config, ec2=aws["ec2"], secretsmanager=aws["secretsmanager"])

        def probe(_instance_id: str, address: str) -> Probe:
            return probe_coordinator(trino_clients.admin(address))

        if trigger.kind is TriggerKind.EC2_STATE_CHANGE and not _is_ours(aws, config, trigger.instance_id):
            log_line(
                FUNCTION,
                "ignored_event",
                cluster=config.cluster,
                trigger=label,
                reason=f"instance {trigger.instance_id} is not a coordinator of this cluster",
            )
            return {"outcome": "ignored", "reason": "not a coordinator of this cluster"}
        switchover = SwitchoverConfig.from_env(env_reader(environ))
        if switchover is not None:
            # A coordinator held by the termination hook (a rollout): hand the address over first.
            Switchover(
                config.group_name,
                config.eni_id,
                config.cluster,
                switchover,
                ec2=aws["ec2"],
                autoscaling=aws["autoscaling"],
                cloudwatch=aws["cloudwatch"],
                probe=probe,
                active_queries=lambda address: len(trino_clients.admin(address).active_queries()),
                hand_over_workers=hand_over(trino_clients),
                active_workers=lambda address: int(trino_clients.admin(address).stats()["activeWorkers"]),
                submission_mark=lambda address: trino_clients.admin(address).submission_mark(),
                listed_queries=lambda address: {
                    str(q.get("queryId")) for q in trino_clients.admin(address).queries()
                },
                remaining_seconds=lambda: remaining_seconds(context, _NO_CONTEXT_SECONDS),
                trigger=label,
            ).run()
        watch = FailoverWatch(
            config,
            ec2=aws["ec2"],
            autoscaling=aws["autoscaling"],
            cloudwatch=aws["cloudwatch"],
            probe=probe,
            remaining_seconds=lambda: remaining_seconds(context, _NO_CONTEXT_SECONDS),
            hand_over_workers=hand_over(trino_clients),
            trigger=label,
        )
        result = watch.run()
    except AWS_ERRORS as exc:
        fields = aws_error_fields(exc)
        log_line(
            FUNCTION,
            "aws_error",
            cluster=config.cluster,
            trigger=label,
            reason="stopped without acting; the next invocation looks again",
            **fields,
        )
        return {"outcome": "aws_error", **fields}
    except (LookupError, ConfigError) as exc:
        log_line(FUNCTION, "misconfigured", cluster=config.cluster, trigger=label, reason=str(exc))
        return {"outcome": "misconfigured", "reason": str(exc)}
    return {
        "outcome": result.outcome,
        "decision": result.decision,
        "rounds": result.rounds,
        "holder": result.holder,
        "target": result.target,
    }


def hand_over(trino_clients: TrinoClients) -> Callable[[str, str], int] | None:
    """Copy the holder's worker announcements to a switchover's target (None: no shared secret)."""
    if trino_clients.access.shared_secret_arn is None:
        return None

    def copy(source: str, target: str) -> int:
        secret = trino_clients.shared_secret()
        assert secret is not None
        return hand_over_workers(trino_clients.admin(source), trino_clients.admin(target), secret, FUNCTION)

    return copy


def probe_clients(
    config: FailoverConfig,
    *,
    ec2: Any,
    secretsmanager: Any,
    resolve_url: Callable[[str], str] | None = None,
) -> TrinoClients:
    """How the probes reach each coordinator at its own address.

    Over HTTPS both coordinators serve the certificate of the coordinator ENI's fixed address
    (the one clients use), so the certificate is checked for that address, read from the ENI.
    """
    server_name = None
    if config.trino.scheme == "https":
        answer = ec2.describe_network_interfaces(NetworkInterfaceIds=[config.eni_id])["NetworkInterfaces"]
        if not answer:
            raise LookupError(f"ENI {config.eni_id} does not exist")
        server_name = str(answer[0]["PrivateIpAddress"])
    return TrinoClients(
        config.trino, secrets_client=secretsmanager, resolve_url=resolve_url, tls_server_name=server_name
    )


def _is_ours(aws: Mapping[str, Any], config: FailoverConfig, instance_id: str | None) -> bool:
    observation = observe(aws["ec2"], aws["autoscaling"], config.eni_id, config.group_name)
    return instance_id in observation.coordinators
