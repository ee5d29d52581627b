"""The AWS API requests a recorded plan implies: each resource as the request the provider will
send (the operation and its parameters, named as in the API), with the names Pulumi would
generate. components/aws_request_check.py validates them against botocore's service models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components import aws_limits

RANDOM_SUFFIX = "-abcdefg"  # stands in for Pulumi's "-" + 7 random characters
PREFIX_SUFFIX = "2026113001234567890000000a"  # stands in for a name_prefix's 26 characters


@dataclass(frozen=True)
class Request:
    resource: str  # the logical name, as in `make plan`'s tree
    service: str
    operation: str
    params: Mapping[str, Any]


# --- from recorded inputs to requests ------------------------------------------------------------


def _auto_name(type_: str, name: str, inputs: Mapping[str, Any]) -> str:
    """The name the provider will use: the input, or the logical name plus Pulumi's suffix."""
    field = aws_limits.AUTO_NAMED[type_].field if type_ in aws_limits.AUTO_NAMED else "name"
    given = inputs.get(field)
    return str(given) if given else name + RANDOM_SUFFIX


def _tags(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    tags = inputs.get("tags") or {}
    return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()] if isinstance(tags, Mapping) else []


def _drop_empty(value: Any) -> Any:
    """Leave out what the provider leaves out: None, empty maps and empty lists."""
    if isinstance(value, Mapping):
        cleaned = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def _camel_to_api(value: Any) -> Any:
    """Pulumi's camelCase nested inputs as the API's PascalCase members."""
    if isinstance(value, Mapping):
        return {k[:1].upper() + k[1:]: _camel_to_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_to_api(v) for v in value]
    return value


def _launch_template(name: str, i: Mapping[str, Any]) -> list[Request]:
    data = _camel_to_api(
        {
            key: i.get(key)
            for key in (
                "imageId",
                "instanceType",
                "userData",
                "keyName",
                "metadataOptions",
                "monitoring",
                "blockDeviceMappings",
                "networkInterfaces",
                "tagSpecifications",
                "iamInstanceProfile",
                "vpcSecurityGroupIds",
            )
        }
    )
    if "VpcSecurityGroupIds" in data:
        data["SecurityGroupIds"] = data.pop("VpcSecurityGroupIds")
    for interface in data.get("NetworkInterfaces") or []:
        if "SecurityGroups" in interface:  # the provider's name for the API's Groups
            interface["Groups"] = interface.pop("SecurityGroups")
    for spec in data.get("TagSpecifications") or []:
        spec["Tags"] = [{"Key": k, "Value": v} for k, v in (spec.get("Tags") or {}).items()]
    params = {
        "LaunchTemplateName": _auto_name("aws:ec2/launchTemplate:LaunchTemplate", name, i),
        "LaunchTemplateData": data,
    }
    return [Request(name, "ec2", "CreateLaunchTemplate", params)]


def _group(name: str, i: Mapping[str, Any]) -> list[Request]:
    hooks = [
        {
            "LifecycleHookName": h.get("name"),
            "LifecycleTransition": h.get("lifecycleTransition"),
            "HeartbeatTimeout": h.get("heartbeatTimeout"),
            "DefaultResult": h.get("defaultResult"),
        }
        for h in i.get("initialLifecycleHooks") or []
    ]
    mixed = i.get("mixedInstancesPolicy")
    params = {
        "AutoScalingGroupName": _auto_name("aws:autoscaling/group:Group", name, i),
        "MinSize": i.get("minSize"),
        "MaxSize": i.get("maxSize"),
        "DesiredCapacity": i.get("desiredCapacity"),
        "VPCZoneIdentifier": ",".join(i.get("vpcZoneIdentifiers") or []),
        "HealthCheckType": i.get("healthCheckType"),
        "HealthCheckGracePeriod": i.get("healthCheckGracePeriod"),
        "CapacityRebalance": i.get("capacityRebalance"),
        "DefaultInstanceWarmup": i.get("defaultInstanceWarmup"),
        "LifecycleHookSpecificationList": hooks,
        "Tags": [
            {"Key": t.get("key"), "Value": t.get("value"), "PropagateAtLaunch": t.get("propagateAtLaunch")}
            for t in i.get("tags") or []
        ],
    }
    if mixed:
        policy = _camel_to_api(mixed)
        template = policy.get("LaunchTemplate", {})
        spec = template.pop("LaunchTemplateSpecification", {})
        template["LaunchTemplateSpecification"] = {
            "LaunchTemplateId": spec.get("LaunchTemplateId"),
            "Version": spec.get("Version"),
        }
        params["MixedInstancesPolicy"] = policy
    elif i.get("launchTemplate"):
        lt = i["launchTemplate"]
        params["LaunchTemplate"] = {"LaunchTemplateId": lt.get("id"), "Version": lt.get("version")}
    requests = [Request(name, "autoscaling", "CreateAutoScalingGroup", params)]
    refresh = i.get("instanceRefresh")
    if refresh:
        # Sent on an update that changes the launch template (the rollout), not at creation.
        prefs = _camel_to_api(dict(refresh.get("preferences") or {}))
        for member in ("InstanceWarmup", "CheckpointDelay"):
            if prefs.get(member) is not None:
                prefs[member] = int(prefs[member])  # the provider takes text and sends a number
        requests.append(
            Request(
                name,
                "autoscaling",
                "StartInstanceRefresh",
                {
                    "AutoScalingGroupName": params["AutoScalingGroupName"],
                    "Strategy": refresh.get("strategy"),
                    "Preferences": prefs,
                },
            )
        )
    return requests


def _schedule(name: str, i: Mapping[str, Any]) -> list[Request]:
    params = {
        "AutoScalingGroupName": i.get("autoscalingGroupName"),
        "ScheduledActionName": i.get("scheduledActionName"),
        "Recurrence": i.get("recurrence"),
        "TimeZone": i.get("timeZone"),
    }
    # -1 means "leave this bound as it is": the provider does not send it.
    for member, field in (
        ("MinSize", "minSize"),
        ("MaxSize", "maxSize"),
        ("DesiredCapacity", "desiredCapacity"),
    ):
        if i.get(field) is not None and int(i[field]) >= 0:
            params[member] = int(i[field])
    return [Request(name, "autoscaling", "PutScheduledUpdateGroupAction", params)]


def _metric_queries(queries: list[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    """An alarm's metric math, as PutMetricAlarm's Metrics member."""
    if not queries:
        return None
    result = []
    for q in queries:
        item: dict[str, Any] = {
            "Id": q.get("id"),
            "Expression": q.get("expression"),
            "Label": q.get("label"),
            "ReturnData": q.get("returnData"),
        }
        metric = q.get("metric")
        if metric:
            item["MetricStat"] = {
                "Metric": {
                    "Namespace": metric.get("namespace"),
                    "MetricName": metric.get("metricName"),
                    "Dimensions": [
                        {"Name": k, "Value": v} for k, v in (metric.get("dimensions") or {}).items()
                    ],
                },
                "Period": metric.get("period"),
                "Stat": metric.get("stat"),
            }
        result.append(item)
    return result


def _scaling_policy(name: str, i: Mapping[str, Any]) -> list[Request]:
    params = {
        "AutoScalingGroupName": i.get("autoscalingGroupName"),
        "PolicyName": _auto_name("aws:autoscaling/policy:Policy", name, i),
        "PolicyType": i.get("policyType"),
        "AdjustmentType": i.get("adjustmentType"),
        "MetricAggregationType": i.get("metricAggregationType"),
        "EstimatedInstanceWarmup": i.get("estimatedInstanceWarmup"),
        # The provider takes the interval bounds as text and sends them as numbers.
        "StepAdjustments": [
            {k: float(v) if k.startswith("MetricInterval") else v for k, v in step.items()}
            for step in _camel_to_api(i.get("stepAdjustments") or [])
        ],
        "TargetTrackingConfiguration": _camel_to_api(i.get("targetTrackingConfiguration")),
    }
    return [Request(name, "autoscaling", "PutScalingPolicy", params)]


def _alarm(name: str, i: Mapping[str, Any]) -> list[Request]:
    params = {
        "AlarmName": _auto_name("aws:cloudwatch/metricAlarm:MetricAlarm", name, i),
        "AlarmDescription": i.get("alarmDescription"),
        "ActionsEnabled": i.get("actionsEnabled"),
        "AlarmActions": i.get("alarmActions"),
        "OKActions": i.get("okActions"),
        "InsufficientDataActions": i.get("insufficientDataActions"),
        "MetricName": i.get("metricName"),
        "Namespace": i.get("namespace"),
        "Statistic": i.get("statistic"),
        "Dimensions": [{"Name": k, "Value": v} for k, v in (i.get("dimensions") or {}).items()],
        "Period": i.get("period"),
        "EvaluationPeriods": i.get("evaluationPeriods"),
        "DatapointsToAlarm": i.get("datapointsToAlarm"),
        "Threshold": i.get("threshold"),
        "ComparisonOperator": i.get("comparisonOperator"),
        "TreatMissingData": i.get("treatMissingData"),
        "Metrics": _metric_queries(i.get("metricQueries")),
        "Tags": _tags(i),
    }
    return [Request(name, "cloudwatch", "PutMetricAlarm", params)]


def _function(name: str, i: Mapping[str, Any]) -> list[Request]:
    function_name = _auto_name("aws:lambda/function:Function", name, i)
    vpc = i.get("vpcConfig") or {}
    params = {
        "FunctionName": function_name,
        "Runtime": i.get("runtime"),
        "Role": i.get("role"),
        "Handler": i.get("handler"),
        "Description": i.get("description"),
        "Timeout": i.get("timeout"),
        "MemorySize": i.get("memorySize"),
        "Code": {"ZipFile": b"PK"},
        "Environment": {"Variables": (i.get("environment") or {}).get("variables")},
        "VpcConfig": {"SubnetIds": vpc.get("subnetIds"), "SecurityGroupIds": vpc.get("securityGroupIds")},
        "Architectures": i.get("architectures"),
        "LoggingConfig": _camel_to_api(i.get("loggingConfig")),
        "Tags": {k: str(v) for k, v in (i.get("tags") or {}).items()},
    }
    requests = [Request(name, "lambda", "CreateFunction", params)]
    if i.get("reservedConcurrentExecutions") is not None:
        concurrency = {
            "FunctionName": function_name,
            "ReservedConcurrentExecutions": i["reservedConcurrentExecutions"],
        }
        requests.append(Request(name, "lambda", "PutFunctionConcurrency", concurrency))
    return requests


def _log_group(name: str, i: Mapping[str, Any]) -> list[Request]:
    group = _auto_name("aws:cloudwatch/logGroup:LogGroup", name, i)
    requests = [
        Request(name, "logs", "CreateLogGroup", {"logGroupName": group, "kmsKeyId": i.get("kmsKeyId")})
    ]
    if i.get("retentionInDays") is not None:
        retention = {"logGroupName": group, "retentionInDays": i["retentionInDays"]}
        requests.append(Request(name, "logs", "PutRetentionPolicy", retention))
    return requests


def _ingress(operation: str) -> Callable[[str, Mapping[str, Any]], list[Request]]:
    def build(name: str, i: Mapping[str, Any]) -> list[Request]:
        permission: dict[str, Any] = {
            "IpProtocol": i.get("ipProtocol"),
            "FromPort": i.get("fromPort"),
            "ToPort": i.get("toPort"),
        }
        if i.get("cidrIpv4"):
            permission["IpRanges"] = [{"CidrIp": i["cidrIpv4"], "Description": i.get("description")}]
        if i.get("referencedSecurityGroupId"):
            permission["UserIdGroupPairs"] = [
                {"GroupId": i["referencedSecurityGroupId"], "Description": i.get("description")}
            ]
        params = {"GroupId": i.get("securityGroupId"), "IpPermissions": [permission]}
        return [Request(name, "ec2", operation, params)]

    return build


def _simple(
    service: str, operation: str, members: Mapping[str, str | Callable[[str, Mapping[str, Any]], Any]]
) -> Callable[[str, Mapping[str, Any]], list[Request]]:
    """A request whose members each come from one input (a name) or a function of the inputs."""

    def build(name: str, i: Mapping[str, Any]) -> list[Request]:
        params = {
            member: (source(name, i) if callable(source) else i.get(source))
            for member, source in members.items()
        }
        return [Request(name, service, operation, params)]

    return build


def _auto(type_: str) -> Callable[[str, Mapping[str, Any]], str]:
    return lambda name, i: _auto_name(type_, name, i)


BUILDERS: dict[str, Callable[[str, Mapping[str, Any]], list[Request]]] = {
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:autoscaling/group:Group": _group,
    "aws:autoscaling/policy:Policy": _scaling_policy,
    "aws:autoscaling/schedule:Schedule": _schedule,
    "aws:autoscaling/lifecycleHook:LifecycleHook": _simple(
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
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:lambda/function:Function": _function,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _ingress("AuthorizeSecurityGroupIngress"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _ingress("AuthorizeSecurityGroupEgress"),
    "aws:cloudwatch/eventRule:EventRule": _simple(
        "events",
        "PutRule",
        {
            "Name": _auto("aws:cloudwatch/eventRule:EventRule"),
            "ScheduleExpression": "scheduleExpression",
            "EventPattern": "eventPattern",
            "Description": "description",
            "Tags": lambda n, i: _tags(i),
        },
    ),
    "aws:cloudwatch/eventTarget:EventTarget": _simple(
        "events",
        "PutTargets",
        {
            "Rule": "rule",
            "Targets": lambda n, i: [
                {"Id": _auto_name("aws:cloudwatch/eventTarget:EventTarget", n, i), "Arn": i.get("arn")}
            ],
        },
    ),
    "aws:iam/role:Role": _simple(
        "iam",
        "CreateRole",
        {
            "RoleName": _auto("aws:iam/role:Role"),
            "AssumeRolePolicyDocument": "assumeRolePolicy",
            "Description": "description",
            "MaxSessionDuration": "maxSessionDuration",
            "Tags": lambda n, i: _tags(i),
        },
    ),
    "aws:iam/rolePolicy:RolePolicy": _simple(
        "iam",
        "PutRolePolicy",
        {
            "RoleName": "role",
            "PolicyName": _auto("aws:iam/rolePolicy:RolePolicy"),
            "PolicyDocument": "policy",
        },
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _simple(
        "iam", "AttachRolePolicy", {"RoleName": "role", "PolicyArn": "policyArn"}
    ),
    "aws:iam/instanceProfile:InstanceProfile": _simple(
        "iam",
        "CreateInstanceProfile",
        {
            "InstanceProfileName": _auto("aws:iam/instanceProfile:InstanceProfile"),
            "Tags": lambda n, i: _tags(i),
        },
    ),
    "aws:lambda/permission:Permission": _simple(
        "lambda",
        "AddPermission",
        {
            "FunctionName": "function",
            "StatementId": _auto("aws:lambda/permission:Permission"),
            "Action": "action",
            "Principal": "principal",
            "SourceArn": "sourceArn",
        },
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _simple(
        "lambda",
        "PutFunctionEventInvokeConfig",
        {
            "FunctionName": "functionName",
            "MaximumRetryAttempts": "maximumRetryAttempts",
            "MaximumEventAgeInSeconds": "maximumEventAgeInSeconds",
        },
    ),
    "aws:cloudwatch/dashboard:Dashboard": _simple(
        "cloudwatch", "PutDashboard", {"DashboardName": "dashboardName", "DashboardBody": "dashboardBody"}
    ),
    "aws:ssm/parameter:Parameter": _simple(
        "ssm",
        "PutParameter",
        {
            "Name": _auto("aws:ssm/parameter:Parameter"),
            "Description": "description",
            "Value": "value",
            "Type": "type",
            "Tier": "tier",
            "Tags": lambda n, i: _tags(i),
        },
    ),
    "aws:secretsmanager/secret:Secret": _simple(
        "secretsmanager",
        "CreateSecret",
        {
            "Name": lambda n, i: i.get("name") or f"{i.get('namePrefix') or n}{PREFIX_SUFFIX}",
            "Description": "description",
            "KmsKeyId": "kmsKeyId",
            "Tags": lambda n, i: _tags(i),
        },
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": _simple(
        "secretsmanager", "PutSecretValue", {"SecretId": "secretId", "SecretString": "secretString"}
    ),
    "aws:ec2/securityGroup:SecurityGroup": _simple(
        "ec2",
        "CreateSecurityGroup",
        {
            "GroupName": _auto("aws:ec2/securityGroup:SecurityGroup"),
            "Description": "description",
            "VpcId": "vpcId",
        },
    ),
    "aws:ec2/networkInterface:NetworkInterface": _simple(
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
