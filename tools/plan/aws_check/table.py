"""The AWS API requests a recorded plan implies: each resource as the request the provider will
send (the operation and its parameters, named as in the API), with the names Pulumi would
generate. tools/plan/aws_check/check.py validates them against botocore's service models.

This module is the table from resource type to request; the requests that need code of their own
are built in tools/plan/aws_check/builders.py, on the shape in tools/plan/aws_check/shape.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.plan.aws_check.builders import (
    alarm_requests,
    function_requests,
    group_requests,
    launch_template_requests,
    log_group_requests,
    scaling_policy_requests,
    schedule_requests,
    security_group_rule_requests,
)
from tools.plan.aws_check.shape import (
    PREFIX_SUFFIX,
    Builder,
    Request,
    api_tags,
    auto_name,
    auto_named,
    simple_request,
)

BUILDERS: dict[str, Builder] = {
    "aws:ec2/launchTemplate:LaunchTemplate": launch_template_requests,
    "aws:autoscaling/group:Group": group_requests,
    "aws:autoscaling/policy:Policy": scaling_policy_requests,
    "aws:autoscaling/schedule:Schedule": schedule_requests,
    "aws:autoscaling/lifecycleHook:LifecycleHook": simple_request(
        "autoscaling",
        "PutLifecycleHook",
        {
            "LifecycleHookName": "name",
            "AutoScalingGroupName": "autoscalingGroupName",
            "LifecycleTransition": "lifecycleTransition",
            "HeartbeatTimeout": "heartbeatTimeout",
            "DefaultResult": "defaultResult",
        },
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": alarm_requests,
    "aws:lambda/function:Function": function_requests,
    "aws:cloudwatch/logGroup:LogGroup": log_group_requests,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": security_group_rule_requests(
        "AuthorizeSecurityGroupIngress"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": security_group_rule_requests(
        "AuthorizeSecurityGroupEgress"
    ),
    "aws:cloudwatch/eventRule:EventRule": simple_request(
        "events",
        "PutRule",
        {
            "Name": auto_named("aws:cloudwatch/eventRule:EventRule"),
            "ScheduleExpression": "scheduleExpression",
            "EventPattern": "eventPattern",
            "Description": "description",
            "Tags": lambda n, i: api_tags(i),
        },
    ),
    "aws:cloudwatch/eventTarget:EventTarget": simple_request(
        "events",
        "PutTargets",
        {
            "Rule": "rule",
            "Targets": lambda n, i: [
                {"Id": auto_name("aws:cloudwatch/eventTarget:EventTarget", n, i), "Arn": i.get("arn")}
            ],
        },
    ),
    "aws:iam/role:Role": simple_request(
        "iam",
        "CreateRole",
        {
            "RoleName": auto_named("aws:iam/role:Role"),
            "AssumeRolePolicyDocument": "assumeRolePolicy",
            "Description": "description",
            "MaxSessionDuration": "maxSessionDuration",
            "Tags": lambda n, i: api_tags(i),
        },
    ),
    "aws:iam/rolePolicy:RolePolicy": simple_request(
        "iam",
        "PutRolePolicy",
        {
            "RoleName": "role",
            "PolicyName": auto_named("aws:iam/rolePolicy:RolePolicy"),
            "PolicyDocument": "policy",
        },
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": simple_request(
        "iam", "AttachRolePolicy", {"RoleName": "role", "PolicyArn": "policyArn"}
    ),
    "aws:iam/instanceProfile:InstanceProfile": simple_request(
        "iam",
        "CreateInstanceProfile",
        {
            "InstanceProfileName": auto_named("aws:iam/instanceProfile:InstanceProfile"),
            "Tags": lambda n, i: api_tags(i),
        },
    ),
    "aws:lambda/permission:Permission": simple_request(
        "lambda",
        "AddPermission",
        {
            "FunctionName": "function",
            "StatementId": auto_named("aws:lambda/permission:Permission"),
            "Action": "action",
            "Principal": "principal",
            "SourceArn": "sourceArn",
        },
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": simple_request(
        "lambda",
        "PutFunctionEventInvokeConfig",
        {
            "FunctionName": "functionName",
            "MaximumRetryAttempts": "maximumRetryAttempts",
            "MaximumEventAgeInSeconds": "maximumEventAgeInSeconds",
        },
    ),
    "aws:cloudwatch/dashboard:Dashboard": simple_request(
        "cloudwatch", "PutDashboard", {"DashboardName": "dashboardName", "DashboardBody": "dashboardBody"}
    ),
    "aws:ssm/parameter:Parameter": simple_request(
        "ssm",
        "PutParameter",
        {
            "Name": auto_named("aws:ssm/parameter:Parameter"),
            "Description": "description",
            "Value": "value",
            "Type": "type",
            "Tier": "tier",
            "Tags": lambda n, i: api_tags(i),
        },
    ),
    "aws:secretsmanager/secret:Secret": simple_request(
        "secretsmanager",
        "CreateSecret",
        {
            "Name": lambda n, i: i.get("name") or f"{i.get('namePrefix') or n}{PREFIX_SUFFIX}",
            "Description": "description",
            "KmsKeyId": "kmsKeyId",
            "Tags": lambda n, i: api_tags(i),
        },
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": simple_request(
        "secretsmanager", "PutSecretValue", {"SecretId": "secretId", "SecretString": "secretString"}
    ),
    "aws:ec2/securityGroup:SecurityGroup": simple_request(
        "ec2",
        "CreateSecurityGroup",
        {
            "GroupName": auto_named("aws:ec2/securityGroup:SecurityGroup"),
            "Description": "description",
            "VpcId": "vpcId",
        },
    ),
    "aws:ec2/networkInterface:NetworkInterface": simple_request(
        "ec2",
        "CreateNetworkInterface",
        {
            "SubnetId": "subnetId",
            "Description": "description",
            "Groups": "securityGroups",
            "PrivateIpAddress": lambda n, i: (i.get("privateIps") or [None])[0],
        },
    ),
}
# Types that make no request of their own (components, the provider) or none worth modelling.
NOT_REQUESTS = ("pulumi:providers:aws",)


def requests_of(resources: list[Any]) -> tuple[list[Request], list[str]]:
    """The requests the recorded resources imply, and the custom types this module cannot model."""
    requests: list[Request] = []
    unmodelled: set[str] = set()
    for resource in resources:
        if not resource.custom or resource.type in NOT_REQUESTS:
            continue
        build = BUILDERS.get(resource.type)
        if build is None:
            unmodelled.add(resource.type)
            continue
        inputs = _plain(resource.inputs)
        requests.extend(
            Request(r.resource, r.service, r.operation, _drop_empty(r.params))
            for r in build(resource.name, inputs)
        )
    return requests, sorted(unmodelled)


def _plain(value: Any) -> Any:
    """Inputs with secrets revealed (their length counts) and the mocks' whole floats as integers."""
    value = getattr(value, "value", value) if type(value).__name__ == "SecretInput" else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _drop_empty(value: Any) -> Any:
    """Leave out what the provider leaves out: None, empty maps and empty lists."""
    if isinstance(value, Mapping):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value
