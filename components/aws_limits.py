"""The AWS limits the program must respect that botocore's service models do not carry, with the
page that documents each, and the names Pulumi generates. One place, read by the settings parser
(to refuse a stack early, naming the key) and by the request check (tests/unit/test_aws_requests.py,
tools/plan/aws_check/table.py), which validates every request against botocore's models and these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    value: int
    what: str
    source: str


# --- limits the service models do not state ------------------------------------------------------
ALARM_ACTIONS = Limit(
    5,
    "actions per alarm state (AlarmActions, OKActions, InsufficientDataActions)",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
)
SSM_STANDARD_VALUE_BYTES = Limit(
    4096,
    "bytes in a Standard-tier SSM parameter value",
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html",
)
SSM_ADVANCED_VALUE_BYTES = Limit(
    8192,
    "bytes in an Advanced-tier SSM parameter value",
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html",
)
LAMBDA_ENVIRONMENT_BYTES = Limit(
    4096,
    "bytes of a Lambda function's environment variables (keys and values)",
    "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
)
EBS_IOPS_PER_GIB = {
    "gp3": Limit(
        500,
        "IOPS per GiB of a gp3 volume",
        "https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html",
    ),
    "io1": Limit(
        50,
        "IOPS per GiB of an io1 volume",
        "https://docs.aws.amazon.com/ebs/latest/userguide/provisioned-iops.html",
    ),
    "io2": Limit(
        1000,
        "IOPS per GiB of an io2 Block Express volume",
        "https://docs.aws.amazon.com/ebs/latest/userguide/provisioned-iops.html",
    ),
}
# The query log's CA bundle travels in the node settings (one SSM parameter of at most 8 KB with
# everything else); half of it is plenty for an issuing CA and its root.
ELASTICSEARCH_CA_BUNDLE_BYTES = Limit(
    4096,
    "it travels in the node settings, which share one SSM parameter of at most 8 KB",
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html",
)

# --- names -------------------------------------------------------------------------------------
# Pulumi's auto-name: the logical name, "-" and 7 random characters (pulumi-terraform-bridge
# AutoName, Randlen 7); the provider refuses a name longer than the field's maximum, and AWS
# refuses one longer than the API allows.
AUTO_NAME_SUFFIX = 8
NAME_LIMITS = "https://docs.aws.amazon.com/general/latest/gr/aws-service-information.html"


@dataclass(frozen=True)
class AutoName:
    """A resource type whose name field Pulumi fills from the logical name when not given."""

    field: str
    limit: Limit


AUTO_NAMED: dict[str, AutoName] = {
    "aws:cloudwatch/eventRule:EventRule": AutoName(
        "name",
        Limit(
            64,
            "characters of an EventBridge rule name",
            "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
        ),
    ),
    # pulumi-aws auto-names targetId with a 255 maximum, but PutTargets refuses more than 64.
    "aws:cloudwatch/eventTarget:EventTarget": AutoName(
        "targetId",
        Limit(
            64,
            "characters of an EventBridge target id",
            "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html",
        ),
    ),
    "aws:iam/role:Role": AutoName(
        "name",
        Limit(
            64,
            "characters of an IAM role name",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
        ),
    ),
    "aws:iam/instanceProfile:InstanceProfile": AutoName(
        "name",
        Limit(
            128,
            "characters of an instance profile name",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html",
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": AutoName(
        "name",
        Limit(
            128,
            "characters of an inline policy name",
            "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
        ),
    ),
    "aws:lambda/function:Function": AutoName(
        "name",
        Limit(
            64,
            "characters of a Lambda function name",
            "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
        ),
    ),
    "aws:lambda/permission:Permission": AutoName(
        "statementId",
        Limit(
            100,
            "characters of a Lambda permission statement id",
            "https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html",
        ),
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": AutoName(
        "name",
        Limit(
            128,
            "characters of a launch template name",
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html",
        ),
    ),
    "aws:ec2/securityGroup:SecurityGroup": AutoName(
        "name",
        Limit(
            255,
            "characters of a security group name",
            "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
        ),
    ),
    "aws:autoscaling/group:Group": AutoName(
        "name",
        Limit(
            255,
            "characters of an Auto Scaling group name",
            "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html",
        ),
    ),
    "aws:autoscaling/policy:Policy": AutoName(
        "name",
        Limit(
            255,
            "characters of a scaling policy name",
            "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_PutScalingPolicy.html",
        ),
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": AutoName(
        "name",
        Limit(
            255,
            "characters of an alarm name",
            "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
        ),
    ),
    "aws:cloudwatch/logGroup:LogGroup": AutoName(
        "name",
        Limit(
            512,
            "characters of a log group name",
            "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
        ),
    ),
    "aws:ssm/parameter:Parameter": AutoName(
        "name",
        Limit(
            1011,
            "characters of an SSM parameter name",
            "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html",
        ),
    ),
}


def auto_name_room(type_: str) -> int:
    """How long a logical name may be for Pulumi's generated name to fit this type's limit."""
    return AUTO_NAMED[type_].limit.value - AUTO_NAME_SUFFIX
