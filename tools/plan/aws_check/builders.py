"""The requests that take more than one recorded input per API member: launch templates, groups
and their instance refresh, schedules, scaling policies, alarms, functions, log groups and
security group rules. Each follows what the provider sends (members it renames, text it sends as
numbers, what it sends only on update), so the request check sees the request AWS would get.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.plan.aws_check.shape import Builder, Request, api_tags, auto_name, camel_to_api


def launch_template_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
    data = camel_to_api(
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
        "LaunchTemplateName": auto_name("aws:ec2/launchTemplate:LaunchTemplate", name, i),
        "LaunchTemplateData": data,
    }
    return [Request(name, "ec2", "CreateLaunchTemplate", params)]


def group_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
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
        "AutoScalingGroupName": auto_name("aws:autoscaling/group:Group", name, i),
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
        policy = camel_to_api(mixed)
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
    pool = i.get("warmPool")
    if pool:
        # The provider puts the pool with a call of its own once the group exists.
        put = {
            "AutoScalingGroupName": params["AutoScalingGroupName"],
            "MinSize": pool.get("minSize"),
            "MaxGroupPreparedCapacity": pool.get("maxGroupPreparedCapacity"),
            "PoolState": pool.get("poolState"),
        }
        if pool.get("instanceReusePolicy"):
            put["InstanceReusePolicy"] = camel_to_api(pool["instanceReusePolicy"])
        requests.append(
            Request(name, "autoscaling", "PutWarmPool", {k: v for k, v in put.items() if v is not None})
        )
    refresh = i.get("instanceRefresh")
    if refresh:
        # Sent on an update that changes the launch template (the rollout), not at creation.
        prefs = camel_to_api(dict(refresh.get("preferences") or {}))
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


def schedule_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
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


def scaling_policy_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
    params = {
        "AutoScalingGroupName": i.get("autoscalingGroupName"),
        "PolicyName": auto_name("aws:autoscaling/policy:Policy", name, i),
        "PolicyType": i.get("policyType"),
        "AdjustmentType": i.get("adjustmentType"),
        "MetricAggregationType": i.get("metricAggregationType"),
        "EstimatedInstanceWarmup": i.get("estimatedInstanceWarmup"),
        # The provider takes the interval bounds as text and sends them as numbers.
        "StepAdjustments": [
            {k: float(v) if k.startswith("MetricInterval") else v for k, v in step.items()}
            for step in camel_to_api(i.get("stepAdjustments") or [])
        ],
        "TargetTrackingConfiguration": camel_to_api(i.get("targetTrackingConfiguration")),
    }
    return [Request(name, "autoscaling", "PutScalingPolicy", params)]


def alarm_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
    params = {
        "AlarmName": auto_name("aws:cloudwatch/metricAlarm:MetricAlarm", name, i),
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
        "Tags": api_tags(i),
    }
    return [Request(name, "cloudwatch", "PutMetricAlarm", params)]


def function_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
    function_name = auto_name("aws:lambda/function:Function", name, i)
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
        "LoggingConfig": camel_to_api(i.get("loggingConfig")),
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


def log_group_requests(name: str, i: Mapping[str, Any]) -> list[Request]:
    group = auto_name("aws:cloudwatch/logGroup:LogGroup", name, i)
    requests = [
        Request(name, "logs", "CreateLogGroup", {"logGroupName": group, "kmsKeyId": i.get("kmsKeyId")})
    ]
    if i.get("retentionInDays") is not None:
        retention = {"logGroupName": group, "retentionInDays": i["retentionInDays"]}
        requests.append(Request(name, "logs", "PutRetentionPolicy", retention))
    return requests


def security_group_rule_requests(operation: str) -> Builder:
    """AuthorizeSecurityGroupIngress or -Egress: one rule, from a CIDR or a referenced group."""

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
