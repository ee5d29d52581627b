"""What `make plan` prints: the component tree with key properties, counts by type, posture."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from tools.plan import command as plan_module
from tools.plan import report as plan_report
from tools.plan.cluster import ALARM, scale_out
from tools.plan.mocks import Plan, reveal

PlanFor = Callable[[str], Plan]


def test_tree_nests_resources_under_their_components(plan_for: PlanFor) -> None:
    lines = plan_report.tree_lines(plan_for("prod"))
    assert lines[0] == "+ pulumi:providers:aws  aws"
    assert "# TrinoCluster  trino-prod" in lines
    fleet = lines.index("  # WorkerFleet  trino-prod-workers")
    assert lines[fleet + 1].startswith("    # ClusterFunction  trino-prod-workers-health")


def test_tree_shows_the_properties_users_check(plan_for: PlanFor) -> None:
    text = "\n".join(plan_report.tree_lines(plan_for("prod")))
    assert "instanceType=r6i.2xlarge" in text
    assert "minSize=4  maxSize=40  desiredCapacity=6" in text
    assert "heartbeatTimeout=600  defaultResult=CONTINUE" in text
    assert "fromPort=8443  cidrIpv4=10.0.0.0/12" in text
    assert "name=/presto-on-aws/trino-prod/server  retentionInDays=90" in text
    assert "targetValue=60" in text
    assert "httpTokens=required" in text


def test_summary_counts_every_resource_by_type(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    text = plan_report.render(plan)
    assert "     2  aws:autoscaling/group:Group" in text
    assert f"  {len([r for r in plan.resources if r.custom]):4d}  resources in total" in text


def test_rollout_and_posture_lines_do_not_depend_on_the_order_resources_registered_in(
    plan_for: PlanFor,
) -> None:
    """Pulumi registers resources as their inputs resolve, so two runs of `make plan` can record the
    worker and coordinator groups (or the client rules) in either order; the printout must not vary."""
    plan = plan_for("prod")
    reordered = replace(plan, resources=list(reversed(plan.resources)))
    assert plan_report.rollout_lines(reordered) == plan_report.rollout_lines(plan)
    assert plan_report.security_posture(reordered) == plan_report.security_posture(plan)


def test_security_posture_is_read_from_the_graph(plan_for: PlanFor) -> None:
    posture = "\n".join(plan_report.security_posture(plan_for("prod")))
    assert "https on port 8443" in posture
    assert "authentication:     password" in posture
    assert "IMDSv2 required:    yes on 2 launch templates" in posture
    assert "public IPs:         none" in posture
    assert "0.0.0.0/0 ingress:  none" in posture
    assert "IAM:                5 roles, one per job; AWS-managed policies: none" in posture


@pytest.mark.parametrize("config", ["prod", "dev-glue-spot"])
def test_posture_lists_every_action_any_role_may_use_on_every_resource(
    plan_for: PlanFor, config: str
) -> None:
    plan = plan_for(config)
    (line,) = [p for p in plan_report.security_posture(plan) if p.startswith("Resource * only:")]
    on_everything = {
        action
        for policy in plan.of_type("aws:iam/rolePolicy:RolePolicy")
        for s in json.loads(reveal(policy.inputs["policy"]))["Statement"]
        if s["Resource"] == "*"
        for action in s["Action"]
    }
    listed = set(re.findall(r"([a-z0-9]+:[A-Za-z]+) \(", line))
    assert on_everything and listed == on_everything


def test_roles_carry_no_aws_managed_policy(plan_for: PlanFor) -> None:
    # AmazonSSMManagedInstanceCore reads every parameter in the account; what Session Manager and
    # a VPC function need is granted inline instead, scoped where IAM allows it.
    for config in ("prod", "dev"):
        assert plan_for(config).of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_secret_values_never_reach_the_printed_plan(plan_for: PlanFor) -> None:
    plan = plan_for("prod")
    text = plan_report.render(plan)
    for version in plan.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert reveal(version.inputs["secretString"]) not in text


def test_make_plan_prints_the_plan_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_module.main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Plan for stack 'dev'")
    assert "Security posture:" in out


def test_unknown_stack_exits_2_naming_the_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_module.main(["--stack", "staging"]) == 2
    assert "stacks here: dev, prod" in capsys.readouterr().err


def test_the_plan_says_how_long_a_queue_takes_to_ask_for_workers(plan_for: PlanFor) -> None:
    # Two 60 s periods above the threshold at best; at worst the signal starts just after a
    # period boundary (+60), waits for the next publish (+15) and the next evaluation (+60).
    assert scale_out(plan_for("prod")).startswith("120-255 s from a queue building up")


def test_a_plan_without_step_alarms_says_so(plan_for: PlanFor) -> None:
    cached = plan_for("dev")  # shared by the session: changed only in a copy
    plan = replace(cached, resources=[r for r in cached.resources if r.type != ALARM])
    assert scale_out(plan) == "no step alarms (CPU target tracking only)"
