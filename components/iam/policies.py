"""IAM policy documents, one per job, as pure functions of the cluster's names and ARNs.

Pure so that tests read the exact JSON each role gets. Every action is listed in
actions.IAM_ACTIONS, which the tests check against AWS's own names (the original template shipped
`ec2:AttachNetworkInterfaces`, which does not exist). A statement uses `Resource: "*"` only for
the actions in actions.WILDCARD_ONLY, which have no resource types in IAM; everything else is
scoped to the cluster's own ARNs or to its cluster tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.iam.actions import GLUE_METASTORE_ACTIONS
from components.settings.model import ElasticsearchConfig
from node_agent.contract import (
    CLOUDWATCH_NAMESPACE,
    SIGV4_SERVICES,
    TAG_CLUSTER,
    TAG_HEALTH_MISSES,
    TAG_SWITCHOVER_SINCE,
)

# No AWS-managed policy is attached: AmazonSSMManagedInstanceCore would let a node read every SSM
# parameter in the account, AWSLambdaVPCAccessExecutionRole grants logs and ENI actions on `*`.
# What each was there for is granted inline below (_session_manager, _lambda_vpc), scoped where
# IAM allows it.

Statement = dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """Where ARNs point: partition, region, account and the cluster whose resources they name."""

    partition: str
    region: str
    account: str
    cluster: str

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region, account = (self.region, self.account) if regional else ("", "")
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def log_group(self, name: str) -> str:
        return self.arn("logs", f"log-group:{name}:*")

    def asg(self, name: str) -> str:
        return self.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}")

    def parameter(self, name: str) -> str:
        return self.arn("ssm", "parameter/" + name.lstrip("/"))

    def cluster_tag(self) -> dict[str, dict[str, str]]:
        return {"StringEquals": {f"aws:ResourceTag/{TAG_CLUSTER}": self.cluster}}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def document(*statements: Statement) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s]}


def assume_role(service: str) -> dict[str, Any]:
    return document(
        {"Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )


def _allow(sid: str, actions: Sequence[str], resources: Sequence[str] | str, **extra: Any) -> Statement:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def _metrics() -> Statement:
    return _allow(
        "PublishClusterMetrics",
        ["cloudwatch:PutMetricData"],
        "*",
        Condition={"StringEquals": {"cloudwatch:namespace": CLOUDWATCH_NAMESPACE}},
    )


def _logs(sid: str, scope: Scope, groups: Sequence[str]) -> Statement:
    actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    return _allow(sid, actions, [scope.log_group(g) for g in sorted(groups)])


def _secrets(scope: Scope, secret_arns: Sequence[str], kms_key_arn: str | None) -> list[Statement]:
    arns = sorted({a for a in secret_arns if a})
    if not arns:
        return []
    statements = [_allow("ReadClusterSecrets", ["secretsmanager:GetSecretValue"], arns)]
    if kms_key_arn:
        via = {"StringEquals": {"kms:ViaService": f"secretsmanager.{scope.region}.amazonaws.com"}}
        statements.append(_allow("DecryptClusterSecrets", ["kms:Decrypt"], [kms_key_arn], Condition=via))
    return statements


def _buckets(scope: Scope, buckets: Sequence[str]) -> list[Statement]:
    names = sorted(set(buckets))
    if not names:
        return []
    bucket_arns = [f"arn:{scope.partition}:s3:::{b}" for b in names]
    return [
        _allow(
            "ListDataBuckets",
            ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            bucket_arns,
        ),
        _allow(
            "ReadWriteDataObjects",
            [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            [arn + "/*" for arn in bucket_arns],
        ),
    ]


def _glue(scope: Scope) -> Statement:
    resources = [
        scope.arn("glue", r) for r in ("catalog", "database/*", "table/*/*", "userDefinedFunction/*/*")
    ]
    return _allow("GlueMetastore", GLUE_METASTORE_ACTIONS, resources)


def _session_manager(scope: Scope) -> list[Statement]:
    """Session Manager instead of SSH: the SSM agent registers its instance and opens the channels
    of a session (the documented minimum; no Run Command, inventory or parameter access). The
    ssmmessages actions have no resource types in IAM."""
    return [
        _allow(
            "RegisterWithSessionManager", ["ssm:UpdateInstanceInformation"], [scope.arn("ec2", "instance/*")]
        ),
        _allow(
            "OpenSessionChannels",
            [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "*",
        ),
    ]


def _lambda_vpc(scope: Scope) -> list[Statement]:
    """What Lambda does with the function's role to put it in the VPC. Per the Lambda docs,
    CreateNetworkInterface and the two Describe calls work only on `*`; the rest take the
    region's and account's EC2 resources. Logs are granted per log group (WriteFunctionLogs)."""
    return [
        _allow(
            "CreateFunctionInterfaces",
            ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "*",
        ),
        _allow(
            "ManageFunctionInterfaces",
            ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
            [scope.arn("ec2", "*/*")],
        ),
    ]


@dataclass(frozen=True)
class NodeGrants:
    """What a node role may touch, beyond its role-specific actions."""

    parameter_name: str
    log_groups: Sequence[str]
    secret_arns: Sequence[str]
    buckets: Sequence[str] = ()
    kms_key_arn: str | None = None


def coordinator_policy(
    scope: Scope, grants: NodeGrants, *, glue: bool, query_log: ElasticsearchConfig | None = None
) -> dict[str, Any]:
    """Boot (settings, secrets), ship logs, publish the cluster metrics, plan queries (Glue, S3),
    and, for an AWS query-log store, call its HTTP API."""
    return document(
        _allow("ReadNodeSettings", ["ssm:GetParameter"], [scope.parameter(grants.parameter_name)]),
        *_secrets(scope, grants.secret_arns, grants.kms_key_arn),
        _logs("ShipNodeLogs", scope, grants.log_groups),
        _metrics(),
        *_session_manager(scope),
        *([_glue(scope)] if glue else []),
        *_buckets(scope, grants.buckets),
        *_query_log(scope, query_log),
    )


# What the query-log agent sends (GET/PUT a policy, PUT a template, POST _bulk), per SigV4 service.
# OpenSearch Serverless authorizes HTTP calls with one IAM action; its data access policy (set on
# the collection, outside this program) says which indices the role may write.
QUERY_LOG_ACTIONS = {
    "es": ["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
    "aoss": ["aoss:APIAccessAll"],
}


def _query_log(scope: Scope, store: ElasticsearchConfig | None) -> list[dict[str, Any]]:
    """The HTTP actions on exactly the configured domain or collection; nothing for other stores."""
    if store is None or store.aws_resource_arn_path is None or store.aws_region is None:
        return []
    service = SIGV4_SERVICES[store.backend]
    arn = f"arn:{scope.partition}:{service}:{store.aws_region}:{scope.account}:{store.aws_resource_arn_path}"
    # A domain's HTTP API is authorized on paths below the domain; a collection on the collection.
    resources = [f"{arn}/*"] if service == "es" else [arn]
    return [_allow("WriteQueryLog", QUERY_LOG_ACTIONS[service], resources)]


def worker_policy(scope: Scope, grants: NodeGrants, *, worker_asg: str) -> dict[str, Any]:
    """The coordinator's boot and log grants, plus holding its own termination while it drains."""
    return document(
        _allow("ReadNodeSettings", ["ssm:GetParameter"], [scope.parameter(grants.parameter_name)]),
        *_secrets(scope, grants.secret_arns, grants.kms_key_arn),
        _logs("ShipNodeLogs", scope, grants.log_groups),
        _metrics(),
        *_session_manager(scope),
        # The lifecycle agent finds its own group and hook from its instance id.
        _allow(
            "FindOwnDrainHook",
            ["autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribeLifecycleHooks"],
            "*",
        ),
        _allow(
            "DrainBeforeTermination",
            ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
            [scope.asg(worker_asg)],
        ),
        *_buckets(scope, grants.buckets),
    )


def failover_policy(
    scope: Scope,
    *,
    eni_id: str,
    coordinator_asg: str,
    log_group: str,
    secret_arns: Sequence[str] = (),
    kms_key_arn: str | None = None,
) -> dict[str, Any]:
    """Move the coordinator address between the cluster's own instances; replace a dead coordinator."""
    return document(
        _allow(
            "Observe",
            [
                "autoscaling:DescribeAutoScalingGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
            ],
            "*",
        ),
        _allow(
            "MoveCoordinatorAddress",
            ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"],
            [scope.arn("ec2", f"network-interface/{eni_id}"), scope.arn("ec2", "instance/*")],
            Condition=scope.cluster_tag(),
        ),
        _allow("ReplaceFailedCoordinator", ["autoscaling:SetInstanceHealth"], [scope.asg(coordinator_asg)]),
        # Switchover: let a leaving coordinator go once the address is on a healthy standby.
        _allow(
            "SwitchOverLeavingCoordinator",
            ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
            [scope.asg(coordinator_asg)],
        ),
        # Its memory between runs is one tag on the leaving coordinator, and no other tag.
        _allow(
            "RememberSwitchoverStart",
            ["ec2:CreateTags"],
            [scope.arn("ec2", "instance/*")],
            Condition={
                **scope.cluster_tag(),
                "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_SWITCHOVER_SINCE]},
            },
        ),
        _metrics(),
        _logs("WriteFunctionLogs", scope, [log_group]),
        *_lambda_vpc(scope),
        *_secrets(scope, secret_arns, kms_key_arn),
    )


def scale_in_policy(
    scope: Scope, *, log_group: str, secret_arns: Sequence[str] = (), kms_key_arn: str | None = None
) -> dict[str, Any]:
    """Ask the coordinator which workers are idle: no AWS call beyond its logs, its place in the
    VPC and the management password (Auto Scaling acts on the answer, not the function)."""
    return document(
        _logs("WriteFunctionLogs", scope, [log_group]),
        *_lambda_vpc(scope),
        *_secrets(scope, secret_arns, kms_key_arn),
    )


def worker_health_policy(
    scope: Scope,
    *,
    worker_asg: str,
    log_group: str,
    secret_arns: Sequence[str] = (),
    kms_key_arn: str | None = None,
) -> dict[str, Any]:
    """Find workers the coordinator does not see and mark them unhealthy in their own group only."""
    return document(
        _allow(
            "Observe",
            [
                "autoscaling:DescribeAutoScalingGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
            ],
            "*",
        ),
        _allow("ReplaceUnhealthyWorker", ["autoscaling:SetInstanceHealth"], [scope.asg(worker_asg)]),
        # Its memory between runs is one tag on each worker; it may write that tag and no other,
        # and only on this cluster's instances.
        _allow(
            "CountMissedChecks",
            ["ec2:CreateTags", "ec2:DeleteTags"],
            [scope.arn("ec2", "instance/*")],
            Condition={
                **scope.cluster_tag(),
                "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_HEALTH_MISSES]},
            },
        ),
        _metrics(),
        _logs("WriteFunctionLogs", scope, [log_group]),
        *_lambda_vpc(scope),
        *_secrets(scope, secret_arns, kms_key_arn),
    )
