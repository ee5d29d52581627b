"""Every IAM action the program grants, and the ones IAM cannot scope to a resource.

The lists are what the policies (policies.py) may use: tests/unit/test_iam_actions.py checks each
name against AWS's own API models, and the graph tests check that every statement of the plan
uses only these actions, with `Resource: "*"` only for WILDCARD_ONLY.
"""

from __future__ import annotations

# Every Glue call Trino's Glue metastore makes, PrestoSQL 330 to Trino 483 (GlueHiveMetastore,
# its column-statistics provider and GlueMetastoreStats, which wraps each call it makes): schemas
# (CREATE/ALTER/DROP SCHEMA), tables and views, partitions (batch create/read/update, single
# read/update/delete), column statistics (ANALYZE, stats on write, DROP), and the SQL routines
# stored in Glue since CREATE FUNCTION (UserDefinedFunction). Trino never calls CreatePartition
# (it creates in batches) or BatchDeletePartition (it drops one partition at a time).
GLUE_METASTORE_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:CreateDatabase",
    "glue:UpdateDatabase",
    "glue:DeleteDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
    "glue:DeletePartition",
    "glue:GetColumnStatisticsForTable",
    "glue:UpdateColumnStatisticsForTable",
    "glue:DeleteColumnStatisticsForTable",
    "glue:GetColumnStatisticsForPartition",
    "glue:UpdateColumnStatisticsForPartition",
    "glue:DeleteColumnStatisticsForPartition",
    "glue:GetUserDefinedFunction",
    "glue:GetUserDefinedFunctions",
    "glue:CreateUserDefinedFunction",
    "glue:UpdateUserDefinedFunction",
    "glue:DeleteUserDefinedFunction",
)

# Every action this program grants, each one checked by hand against the AWS Service
# Authorization Reference. Adding an action means adding it here (and a test will say so).
IAM_ACTIONS = frozenset(
    {
        "aoss:APIAccessAll",
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLifecycleHooks",
        "autoscaling:RecordLifecycleActionHeartbeat",
        "autoscaling:SetInstanceHealth",
        "cloudwatch:PutMetricData",
        "ec2:AssignPrivateIpAddresses",
        "ec2:AttachNetworkInterface",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeSubnets",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DetachNetworkInterface",
        *GLUE_METASTORE_ACTIONS,
        "es:ESHttpGet",
        "es:ESHttpPost",
        "es:ESHttpPut",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetBucketLocation",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:PutObject",
        "secretsmanager:GetSecretValue",
        "ssm:GetParameter",
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        "sts:AssumeRole",
    }
)

# Actions IAM cannot scope to a resource ARN (no resource types in the Service Authorization
# Reference); a statement with these must say "*". PutMetricData is narrowed by namespace instead.
WILDCARD_ONLY = frozenset(
    {
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLifecycleHooks",
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",  # Lambda: "only works if allowed on all resources"
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    }
)
