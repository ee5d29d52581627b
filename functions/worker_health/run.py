"""One worker-health run: look at the group, the instances and the coordinator; count; mark.

The failure count must survive between runs (a worker is replaced only after FAILED_PROBES
failed checks in a row, one check per scheduled run). It is kept as a tag on the worker instance
(contract.TAG_HEALTH_MISSES), because:
- it lives and dies with the instance: no table to create, nothing stale to clean up when the
  group terminates the worker, and a replacement starts from zero;
- an operator sees it on the instance in the console next to the group's own health status;
- the function's IAM stays small: ec2:CreateTags / ec2:DeleteTags on this cluster's instances,
  limited by condition to this one tag key, plus the DescribeInstances it needs anyway.
Two overlapping runs could count one failure twice; the schedule is one run a minute and a run
takes seconds, and reserved concurrency 1 on the function rules it out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from functions.shared.ec2_batch import describe_instances, write_tags
from functions.shared.lambda_support import (
    AWS_ERRORS,
    AwsErrorKind,
    Clock,
    EnvReader,
    TrinoAccess,
    aws_error_fields,
    aws_error_kind,
    log_line,
)
from functions.worker_health.rules import CoordinatorView, Plan, Worker, plan
from node_agent.aws import put_metric
from node_agent.contract import TAG_HEALTH_MISSES, FunctionEnv, Metric
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable

FUNCTION = "worker_health"
NODES_SQL = "SELECT node_id, state FROM system.runtime.nodes WHERE NOT coordinator"


@dataclass(frozen=True)
class WorkerHealthConfig:
    cluster: str
    group_name: str
    eni_id: str
    failed_checks: int = 3
    grace_seconds: int = 600
    max_fraction: float = 0.25
    trino: TrinoAccess = field(default_factory=lambda: TrinoAccess(timeout_seconds=10.0))

    @classmethod
    def from_env(cls, env: EnvReader) -> WorkerHealthConfig:
        config = cls(
            cluster=env.text(FunctionEnv.CLUSTER),
            group_name=env.text(FunctionEnv.WORKER_ASG_NAME),
            eni_id=env.text(FunctionEnv.COORDINATOR_ENI_ID),
            failed_checks=env.integer(FunctionEnv.FAILED_PROBES, 3, minimum=1, maximum=60),
            grace_seconds=env.integer(FunctionEnv.GRACE_PERIOD_SECONDS, 600, minimum=0, maximum=86400),
            max_fraction=env.number(FunctionEnv.MAX_UNHEALTHY_FRACTION, 0.25, minimum=0.0, maximum=1.0),
            trino=TrinoAccess.from_env(
                env,
                timeout_seconds=env.number(FunctionEnv.PROBE_TIMEOUT_SECONDS, 10.0, minimum=0.5, maximum=60),
            ),
        )
        env.check()
        return config


def coordinator_view(admin: TrinoAdmin) -> CoordinatorView:
    """The coordinator's worker list; raises TrinoUnavailable / TrinoError when it cannot say."""
    result = admin.query(NODES_SQL, deadline_seconds=admin.timeout)
    return CoordinatorView({str(node_id): str(state).lower() for node_id, state in result.rows})


def describe_workers(ec2: Any, autoscaling: Any, group_name: str) -> list[Worker]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]
    if not groups:
        raise LookupError(f"Auto Scaling group {group_name} does not exist")
    members = {i["InstanceId"]: i for i in groups[0].get("Instances", [])}
    records = describe_instances(ec2, sorted(members))
    workers = []
    for iid, member in members.items():
        record = records.get(iid)
        tags = {t["Key"]: t["Value"] for t in (record or {}).get("Tags", [])}
        workers.append(
            Worker(
                instance_id=iid,
                lifecycle_state=member["LifecycleState"],
                health_status=member["HealthStatus"],
                ec2_state=record["State"]["Name"] if record else "missing",
                launched_at=record.get("LaunchTime") if record else None,
                misses=_count(tags.get(TAG_HEALTH_MISSES)),
            )
        )
    return workers


def _count(raw: str | None) -> int:
    """A tag someone edited by hand to a non-number counts as zero rather than stopping the run."""
    try:
        return max(0, int(raw)) if raw is not None else 0
    except ValueError:
        return 0


def coordinator_address(ec2: Any, eni_id: str) -> str:
    answer = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"]
    if not answer:
        raise LookupError(f"ENI {eni_id} does not exist")
    return str(answer[0]["PrivateIpAddress"])


@dataclass
class RunResult:
    outcome: str
    marked: list[str]
    plan: Plan | None = None


class WorkerHealthRun:
    def __init__(
        self,
        config: WorkerHealthConfig,
        *,
        ec2: Any,
        autoscaling: Any,
        cloudwatch: Any,
        admin_for: Callable[[str], TrinoAdmin],
        read_view: Callable[[TrinoAdmin], CoordinatorView] | None = None,
        clock: Clock | None = None,
        log: Callable[..., Any] = log_line,
        trigger: str = "",
    ) -> None:
        self.config = config
        self.ec2, self.autoscaling, self.cloudwatch = ec2, autoscaling, cloudwatch
        self.admin_for = admin_for  # coordinator address -> TrinoAdmin
        # The coordinator's view; a seam so a test can map local node ids to moto's instance ids.
        self.read_view = read_view or coordinator_view
        self.clock = clock or Clock()
        self._log = log
        self.trigger = trigger

    def log(self, decision: str, **fields: Any) -> None:
        self._log(FUNCTION, decision, cluster=self.config.cluster, trigger=self.trigger, **fields)

    def run(self) -> RunResult:
        address = coordinator_address(self.ec2, self.config.eni_id)
        try:
            view = self.read_view(self.admin_for(address))
        except (TrinoUnavailable, TrinoError) as exc:
            # Failover's job, not a reason to replace workers; counts stay as they are.
            self.log("coordinator_unreachable", coordinator=address, reason=str(exc))
            return RunResult("coordinator_unreachable", [])
        workers = describe_workers(self.ec2, self.autoscaling, self.config.group_name)
        decided = plan(
            workers,
            view,
            failed_checks=self.config.failed_checks,
            grace=timedelta(seconds=self.config.grace_seconds),
            now=self.clock.now(),
            max_fraction=self.config.max_fraction,
        )
        self._save_counts(decided)
        marked = [iid for iid in decided.mark if self._mark(iid, decided)]
        failing = sorted(c.instance_id for c in decided.checks if c.misses_after)
        if decided.systemic:
            self.log(
                "systemic_fault",
                failing=failing,
                limit=decided.limit,
                reason=(
                    f"{len(failing)} of {len(workers)} workers fail at once, more than the {decided.limit} "
                    "that may be replaced: a shared cause, not sick workers; none marked"
                ),
            )
        elif decided.held_back:
            self.log(
                "held_back",
                instances=decided.held_back,
                limit=decided.limit,
                already_unhealthy=decided.already_unhealthy,
                reason=f"at most {decided.limit} of {len(workers)} workers may be unhealthy at once",
            )
        put_metric(self.cloudwatch, self.config.cluster, Metric.WORKERS_MARKED_UNHEALTHY, len(marked))
        put_metric(self.cloudwatch, self.config.cluster, Metric.SYSTEMIC_WORKER_FAULT, int(decided.systemic))
        self.log(
            "checked",
            workers=len(workers),
            checked=len(decided.checks),
            failing=failing,
            skipped=decided.skipped,
            marked=marked,
            coordinator_nodes=len(view.states),
        )
        return RunResult("checked", marked, decided)

    def _save_counts(self, decided: Plan) -> None:
        """Write only the counts that changed: set failures, remove the tag after a pass."""
        to_set: dict[int, list[str]] = defaultdict(list)
        to_clear: list[str] = []
        for check in decided.checks:
            if check.misses_after == check.misses_before:
                continue
            if check.misses_after:
                to_set[check.misses_after].append(check.instance_id)
                self.log(
                    "check_failed",
                    instance=check.instance_id,
                    reason=check.reason,
                    failures=check.misses_after,
                    of=self.config.failed_checks,
                )
            else:
                to_clear.append(check.instance_id)
        for count, ids in sorted(to_set.items()):
            self._tag_call("create_tags", ids, [{"Key": TAG_HEALTH_MISSES, "Value": str(count)}])
        if to_clear:
            self._tag_call("delete_tags", to_clear, [{"Key": TAG_HEALTH_MISSES}])

    def _tag_call(self, operation: str, ids: list[str], tags: list[dict[str, str]]) -> None:
        def gone(iid: str, reason: str) -> None:
            self.log("instance_gone", instance=iid, reason=reason)

        write_tags(self.ec2, operation, ids, tags, gone)

    def _mark(self, instance_id: str, decided: Plan) -> bool:
        check = next(c for c in decided.checks if c.instance_id == instance_id)
        try:
            self.autoscaling.set_instance_health(
                InstanceId=instance_id, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False
            )
        except AWS_ERRORS as exc:
            if aws_error_kind(exc) in (AwsErrorKind.DENIED, AwsErrorKind.THROTTLED):
                raise
            self.log(
                "mark_unhealthy_failed", instance=instance_id, reason=check.reason, **aws_error_fields(exc)
            )
            return False
        self.log("marked_unhealthy", instance=instance_id, reason=check.reason, failures=check.misses_after)
        return True
