"""Rollout resources as declared: the refreshes, the coordinator switchover hook, the rollback
alarms, the worker schedules, and what the failover function is given to run a switchover."""

from __future__ import annotations

import json
from typing import Any

from components.rollout import SWITCHOVER_HEARTBEAT_SECONDS
from node_agent.contract import FunctionEnv
from tests.unit.conftest import plan_of
from tools.plan.mocks import Plan, Recorded, reveal
from tools.plan.report import render

GROUP = "aws:autoscaling/group:Group"


def group(plan: Plan, role: str) -> Recorded:
    return plan.named(f"{plan.settings.name}-{role}s", GROUP)


def refresh(plan: Plan, role: str) -> dict[str, Any]:
    return group(plan, role).inputs["instanceRefresh"]


def test_workers_roll_with_the_configured_health_and_warmup() -> None:
    prefs = refresh(plan_of("prod"), "worker")["preferences"]
    assert refresh(plan_of("prod"), "worker")["strategy"] == "Rolling"
    assert prefs["minHealthyPercentage"] == 90
    assert prefs["maxHealthyPercentage"] == 100
    assert prefs["instanceWarmup"] == "300"
    assert prefs["skipMatching"] is True


def test_prod_workers_pause_at_checkpoints() -> None:
    prefs = refresh(plan_of("prod"), "worker")["preferences"]
    assert prefs["checkpointPercentages"] == [25, 50, 100]
    assert prefs["checkpointDelay"] == "600"


def test_worker_refresh_rolls_back_on_workers_not_joining_and_failed_queries() -> None:
    prefs = refresh(plan_of("prod"), "worker")["preferences"]
    assert prefs["autoRollback"] is True
    assert prefs["alarmSpecification"]["alarms"] == [
        "trino-prod-workers-not-joining",
        "trino-prod-monitoring-failed-queries",
    ]


def test_workers_not_joining_alarm_compares_in_service_with_active_trino_workers() -> None:
    alarm = plan_of("prod").named("trino-prod-rollout-alarms-workers-not-joining")
    queries = {q["id"]: q for q in alarm.inputs["metricQueries"]}
    assert queries["missing"]["expression"] == "inservice - active"
    assert queries["inservice"]["metric"]["dimensions"] == {"AutoScalingGroupName": "trino-prod-workers"}
    assert queries["active"]["metric"]["metricName"] == "ActiveWorkers"
    assert alarm.inputs["evaluationPeriods"] == 10  # workerHealthGraceSeconds 600 s: a boot's time
    assert alarm.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_two_coordinators_launch_one_before_terminating_one() -> None:
    prefs = refresh(plan_of("prod"), "coordinator")["preferences"]
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 150)


def test_a_single_coordinator_is_replaced_launch_before_terminate() -> None:
    prefs = refresh(plan_of("dev"), "coordinator")["preferences"]
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 200)


def test_coordinator_refresh_rolls_back_on_no_coordinator_and_failed_queries() -> None:
    alarms = refresh(plan_of("prod"), "coordinator")["preferences"]["alarmSpecification"]["alarms"]
    assert alarms == ["trino-prod-monitoring-no-coordinator", "trino-prod-monitoring-failed-queries"]


def test_every_leaving_coordinator_waits_on_the_switchover_hook() -> None:
    plan = plan_of("prod")
    (hook,) = group(plan, "coordinator").inputs["initialLifecycleHooks"]
    assert hook["name"] == "trino-prod-switchover"
    assert hook["lifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["heartbeatTimeout"] == SWITCHOVER_HEARTBEAT_SECONDS
    assert hook["defaultResult"] == "CONTINUE"
    # Also as a resource, for a stack whose group existed before the hook did.
    resource = plan.named("trino-prod-coordinators-switchover", "aws:autoscaling/lifecycleHook:LifecycleHook")
    assert resource.inputs["name"] == "trino-prod-switchover"
    assert resource.inputs["defaultResult"] == "CONTINUE"


def test_the_switchover_hook_event_invokes_the_failover_function_at_once() -> None:
    rule = plan_of("prod").named(
        "trino-prod-coordinators-failover-switchover", "aws:cloudwatch/eventRule:EventRule"
    )
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail-type"] == ["EC2 Instance-terminate Lifecycle Action"]
    assert pattern["detail"]["LifecycleHookName"] == ["trino-prod-switchover"]


def test_failover_function_gets_the_hook_and_the_waits() -> None:
    plan = plan_of("prod")
    env = plan.named("trino-prod-coordinators-failover", "aws:lambda/function:Function").inputs["environment"]
    variables = env["variables"]
    assert variables[FunctionEnv.SWITCHOVER_HOOK_NAME.value] == "trino-prod-switchover"
    assert variables[FunctionEnv.SWITCHOVER_QUIET_WAIT_SECONDS.value] == "300"
    assert variables[FunctionEnv.SWITCHOVER_STANDBY_WAIT_SECONDS.value] == "3600"


def test_failover_role_may_complete_only_the_coordinator_groups_hooks() -> None:
    plan = plan_of("prod")
    policy = json.loads(
        reveal(plan.named("trino-prod-identity-failover", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    )
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "SwitchOverLeavingCoordinator"]
    assert set(statement["Action"]) == {
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
    }
    assert all("autoScalingGroupName/trino-prod-coordinators" in r for r in statement["Resource"])


def test_dev_schedules_become_scheduled_actions_on_the_worker_group() -> None:
    actions = {
        a.inputs["scheduledActionName"]: a.inputs
        for a in plan_of("dev").of_type("aws:autoscaling/schedule:Schedule")
    }
    assert set(actions) == {"trino-dev-evenings", "trino-dev-mornings"}
    evening = actions["trino-dev-evenings"]
    assert evening["recurrence"] == "0 20 * * 1-5"
    assert evening["timeZone"] == "Europe/Dublin"
    assert (evening["minSize"], evening["desiredCapacity"]) == (0, 0)
    assert evening["maxSize"] == -1  # left as it is
    assert evening["autoscalingGroupName"] == "trino-dev-workers"


def test_no_schedules_means_no_scheduled_actions() -> None:
    assert plan_of("prod").of_type("aws:autoscaling/schedule:Schedule") == []


def test_plan_prints_what_rolls_batches_and_rollback_alarms() -> None:
    text = render(plan_of("prod"))
    rollout = text[text.index("Rollout:") :]
    assert "trino-prod-workers: refresh min 90 % / max 100 % healthy" in rollout
    assert "checkpoints [25, 50, 100]" in rollout
    assert "trino-prod-workers-not-joining" in rollout
    assert "what rolls:" in rollout
    assert "trino-prod-coordinators: refresh min 100 % / max 150 % healthy" in rollout


def test_failover_reads_the_shared_secret_the_nodes_use_and_no_other_new_secret() -> None:
    """The switchover signs Trino's internal discovery calls with it (node_agent/trino/discovery.py)."""
    plan = plan_of("prod")
    env = plan.named("trino-prod-coordinators-failover", "aws:lambda/function:Function").inputs["environment"]
    shared = env["variables"][FunctionEnv.SHARED_SECRET_ARN.value]
    policy = json.loads(
        reveal(plan.named("trino-prod-identity-failover", "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    )
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "ReadClusterSecrets"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert shared in statement["Resource"]
    assert len(statement["Resource"]) == 2  # the management password and the shared secret
