"""The checked list of IAM actions, checked against AWS's own API models shipped in botocore.

Most IAM actions are named after the API operation they authorize, so an invented name such as
`ec2:AttachNetworkInterfaces` (which the original template granted) has no operation behind it.
The few permission-only actions are listed with the operations they authorize.
"""

from __future__ import annotations

import botocore.session
import pytest

from components.iam.actions import IAM_ACTIONS, WILDCARD_ONLY

# IAM actions whose names are not API operation names: action -> the operations they authorize.
PERMISSION_ONLY = {
    "s3:ListBucket": ("ListObjects", "ListObjectsV2"),
    "s3:ListBucketMultipartUploads": ("ListMultipartUploads",),
    "s3:ListMultipartUploadParts": ("ListParts",),
}

# IAM actions that authorize a service's data-plane HTTP calls (the query log's requests to an
# OpenSearch Service domain or a Serverless collection), not an operation of its AWS API.
DATA_PLANE = {
    "aoss:APIAccessAll",
    "es:ESHttpGet",
    "es:ESHttpPost",
    "es:ESHttpPut",
}

# Actions only AWS's own agents call, on APIs botocore does not model (AWS Systems Manager docs,
# "Verify or add instance permissions for Session Manager": the minimum for a session).
AGENT_ONLY = {
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}

_session = botocore.session.get_session()


def operations(service: str) -> set[str]:
    return set(_session.get_service_model(service).operation_names)


@pytest.mark.parametrize("action", sorted(IAM_ACTIONS - DATA_PLANE - AGENT_ONLY))
def test_granted_action_names_an_aws_operation(action: str) -> None:
    service, name = action.split(":")
    expected = PERMISSION_ONLY.get(action, (name,))
    assert set(expected) <= operations(service), f"{action}: no such operation in the {service} API"


def test_data_plane_actions_are_granted_actions_of_services_that_have_them() -> None:
    assert DATA_PLANE <= IAM_ACTIONS
    assert {a.split(":")[0] for a in DATA_PLANE} == {"es", "aoss"}
    assert all(a.startswith("es:ESHttp") for a in DATA_PLANE if a.startswith("es:"))


def test_an_invented_action_is_caught_by_the_same_check() -> None:
    assert "AttachNetworkInterfaces" not in operations("ec2")
    assert "AttachNetworkInterface" in operations("ec2")


def test_wildcard_only_actions_are_granted_actions() -> None:
    assert WILDCARD_ONLY <= IAM_ACTIONS
    reasons = (
        "Describe",
        "PutMetricData",
        "CreateNetworkInterface",
        "CreateControlChannel",
        "CreateDataChannel",
    )
    reasons += ("OpenControlChannel", "OpenDataChannel")
    assert all(a.split(":")[1].startswith(reasons) for a in WILDCARD_ONLY)
