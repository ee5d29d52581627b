"""Properties every resource the program declares must have, whatever the stack configuration."""

from __future__ import annotations

import base64
import inspect
import json
from typing import Any

import pulumi_aws as aws
import pytest

from components.iam.actions import IAM_ACTIONS, WILDCARD_ONLY
from node_agent.contract import TAG_CLUSTER
from tools.plan.mocks import Plan, Recorded, reveal

# Resource types the program uses that AWS (and pulumi-aws) cannot tag. Each is checked against
# the SDK below, so a type that gains tags moves out of this list.
UNTAGGABLE = {
    "aws:iam/rolePolicy:RolePolicy": aws.iam.RolePolicy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": aws.iam.RolePolicyAttachment,
    "aws:lambda/permission:Permission": aws.lambda_.Permission,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": aws.lambda_.FunctionEventInvokeConfig,
    "aws:cloudwatch/eventTarget:EventTarget": aws.cloudwatch.EventTarget,
    "aws:cloudwatch/dashboard:Dashboard": aws.cloudwatch.Dashboard,
    "aws:autoscaling/policy:Policy": aws.autoscaling.Policy,
    "aws:secretsmanager/secretVersion:SecretVersion": aws.secretsmanager.SecretVersion,
    "aws:autoscaling/schedule:Schedule": aws.autoscaling.Schedule,
    "aws:autoscaling/lifecycleHook:LifecycleHook": aws.autoscaling.LifecycleHook,
}
PROVIDER = "pulumi:providers:aws"


def _custom(plan: Plan) -> list[Recorded]:
    return [r for r in plan.resources if r.custom and r.type != PROVIDER]


def _policies(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for r in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        documents.append((r.name, json.loads(reveal(r.inputs["policy"]))))
    for r in plan.of_type("aws:iam/role:Role"):
        documents.append((r.name + " (trust)", json.loads(r.inputs["assumeRolePolicy"])))
    return documents


def _statements(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    return [(name, s) for name, doc in _policies(plan) for s in doc["Statement"]]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.mark.parametrize("type_", sorted(UNTAGGABLE))
def test_types_treated_as_untaggable_really_take_no_tags(type_: str) -> None:
    assert "tags" not in inspect.signature(UNTAGGABLE[type_]._internal_init).parameters


def test_every_taggable_resource_carries_the_cluster_tags(any_plan: Plan) -> None:
    expected = any_plan.settings.tags
    for resource in _custom(any_plan):
        if resource.type in UNTAGGABLE:
            continue
        tags = resource.inputs.get("tags")
        if resource.type == "aws:autoscaling/group:Group":
            tags = {t["key"]: t["value"] for t in tags}
            assert all(t["propagateAtLaunch"] for t in resource.inputs["tags"]), resource.name
        assert isinstance(tags, dict), f"{resource.type} {resource.name} has no tags"
        assert expected.items() <= tags.items(), f"{resource.type} {resource.name}"


def test_provider_default_tags_are_the_cluster_tags(any_plan: Plan) -> None:
    provider = any_plan.of_type(PROVIDER)[0]
    assert json.loads(provider.inputs["defaultTags"])["tags"] == any_plan.settings.tags


def test_launched_instances_volumes_and_interfaces_are_tagged(any_plan: Plan) -> None:
    for template in any_plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        kinds = {spec["resourceType"]: spec["tags"] for spec in template.inputs["tagSpecifications"]}
        assert set(kinds) == {"instance", "volume", "network-interface"}
        for tags in kinds.values():
            assert tags[TAG_CLUSTER] == any_plan.settings.name


def test_every_volume_is_encrypted(any_plan: Plan) -> None:
    templates = any_plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2
    for template in templates:
        for mapping in template.inputs["blockDeviceMappings"]:
            assert mapping["ebs"]["encrypted"] == "true", template.name


def test_every_launch_template_requires_imdsv2_with_hop_limit_one(any_plan: Plan) -> None:
    for template in any_plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        options = template.inputs["metadataOptions"]
        assert options["httpTokens"] == "required", template.name
        assert options["httpPutResponseHopLimit"] == 1
        assert options["httpEndpoint"] == "enabled"


def test_no_instance_gets_a_public_ip(any_plan: Plan) -> None:
    for template in any_plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        for interface in template.inputs["networkInterfaces"]:
            assert interface["associatePublicIpAddress"] == "false", template.name


def test_no_ingress_rule_is_open_to_the_world(any_plan: Plan) -> None:
    rules = any_plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules
    for rule in rules:
        assert rule.inputs.get("cidrIpv4") not in ("0.0.0.0/0",), rule.name
        assert "cidrIpv6" not in rule.inputs, rule.name
        assert rule.inputs.get("cidrIpv4") or rule.inputs.get("referencedSecurityGroupId"), rule.name
    groups = any_plan.of_type("aws:ec2/securityGroup:SecurityGroup")
    assert all("ingress" not in g.inputs for g in groups), "inline rules would bypass the checks above"


def test_no_secret_reaches_user_data(any_plan: Plan) -> None:
    secret_values = [
        reveal(v.inputs["secretString"])
        for v in any_plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    ]
    assert secret_values
    for template in any_plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        script = base64.b64decode(template.inputs["userData"]).decode()
        assert len(script) < 1024
        for value in secret_values:
            assert value not in script


def test_every_policy_document_parses_and_has_a_version(any_plan: Plan) -> None:
    documents = _policies(any_plan)
    assert len(documents) == 10  # 5 roles: trust + permissions each
    for name, doc in documents:
        assert doc["Version"] == "2012-10-17", name
        assert doc["Statement"], name


def test_every_action_granted_is_a_real_iam_action_from_the_checked_list(any_plan: Plan) -> None:
    for name, statement in _statements(any_plan):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{name}: wildcard action {action}"
            assert action in IAM_ACTIONS, f"{name}: {action} is not in the checked list of IAM actions"


def test_wildcard_resource_only_for_actions_without_resource_types(any_plan: Plan) -> None:
    for name, statement in _statements(any_plan):
        if statement.get("Resource") == "*" or "*" in _as_list(statement.get("Resource", [])):
            actions = set(_as_list(statement["Action"]))
            assert actions <= WILDCARD_ONLY, f"{name}: {sorted(actions - WILDCARD_ONLY)} on Resource *"


def test_every_scoped_resource_is_an_arn_of_this_account_or_a_named_bucket(any_plan: Plan) -> None:
    for name, statement in _statements(any_plan):
        if "Principal" in statement or statement.get("Resource") == "*":
            continue
        for resource in _as_list(statement["Resource"]):
            assert resource.startswith("arn:aws:"), f"{name}: {resource}"
            assert not resource.endswith(":*:*"), f"{name}: {resource}"


def test_each_job_has_its_own_role(any_plan: Plan) -> None:
    roles = {r.inputs["tags"]["presto-on-aws:role"] for r in any_plan.of_type("aws:iam/role:Role")}
    assert roles == {"coordinator", "worker", "failover", "worker-health", "scale-in"}


def test_resource_names_fit_aws_limits(any_plan: Plan) -> None:
    for group in any_plan.of_type("aws:autoscaling/group:Group"):
        assert len(group.inputs["name"]) <= 255
    for resource in _custom(any_plan):
        # Auto-named resources get an 8-character suffix; IAM roles and Lambda names stop at 64.
        if resource.type in ("aws:iam/role:Role", "aws:lambda/function:Function"):
            assert len(resource.name) + 8 <= 64, resource.name
