"""The launch template both node roles share in shape, and the tiny user data it carries.

User data holds no secret and no configuration: only which SSM parameter to read, which role the
node plays and the region, written to the node env file; then it starts the bootstrap unit, which
does the rest from SSM and Secrets Manager with the node's own role.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child, tagged
from components.settings.model import ClusterSettings
from node_agent.contract import (
    BOOTSTRAP_UNIT,
    NODE_ENV_FILE,
    NODE_ENV_REGION,
    NODE_ENV_ROLE,
    NODE_ENV_SETTINGS_PARAMETER,
    TAG_ROLE,
    Role,
)


def user_data(*, parameter_name: str, role: Role, region: str, boot_digest: str) -> str:
    """`boot_digest` (components/nodes/boot_digest.py) is a comment the node never reads: it is there so
    that a change to what bootstrap reads from SSM and Secrets Manager changes the template."""
    env_dir = NODE_ENV_FILE.rsplit("/", 1)[0]
    return "\n".join(
        [
            "#!/bin/bash",
            f"# boot-digest: {boot_digest}",
            "set -euo pipefail",
            f"install -d -m 0755 {env_dir}",
            f"cat > {NODE_ENV_FILE} <<'EOF'",
            f"{NODE_ENV_SETTINGS_PARAMETER}={parameter_name}",
            f"{NODE_ENV_ROLE}={role.value}",
            f"{NODE_ENV_REGION}={region}",
            "EOF",
            f"chmod 0644 {NODE_ENV_FILE}",
            f"systemctl start --no-block {BOOTSTRAP_UNIT}",
            "",
        ]
    )


@dataclass(frozen=True)
class NodeLaunchTemplateArgs:
    settings: ClusterSettings
    role: Role
    instance_type: str
    ami_id: pulumi.Input[str]
    root_device_name: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    security_group_ids: Sequence[pulumi.Input[str]]
    parameter_name: str
    boot_digest: pulumi.Input[str]  # settings JSON + secret versions this role reads


def node_launch_template(
    name: str, args: NodeLaunchTemplateArgs, parent: pulumi.Resource
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only (hop limit 1: no container on the node needs the metadata service), encrypted
    root volume, no public IP, tags on the instance, its volume and its network interface."""
    s = args.settings
    volume = s.volume
    node_tags = tagged(s.tags, f"{s.name}-{args.role.value}", **{TAG_ROLE: args.role.value})
    ebs: aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgsDict = {
        "volume_size": volume.size_gb,
        "volume_type": volume.type,
        "encrypted": "true",
        "delete_on_termination": "true",
    }
    if volume.iops is not None:
        ebs["iops"] = volume.iops
    if volume.kms_key_arn:
        ebs["kms_key_id"] = volume.kms_key_arn
    return aws.ec2.LaunchTemplate(
        name,
        description=f"Trino {args.role.value} of {s.name} (Trino {s.trino.version})",
        image_id=args.ami_id,
        instance_type=args.instance_type,
        key_name=s.image.key_name,
        iam_instance_profile={"arn": args.instance_profile_arn},
        ebs_optimized="true",
        monitoring={"enabled": True},
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
            "instance_metadata_tags": "enabled",
        },
        network_interfaces=[
            {
                "device_index": 0,
                "associate_public_ip_address": "false",
                "delete_on_termination": "true",
                "security_groups": [*args.security_group_ids, *s.network.extra_security_group_ids],
            }
        ],
        block_device_mappings=[{"device_name": args.root_device_name, "ebs": ebs}],
        user_data=pulumi.Output.from_input(args.boot_digest).apply(
            lambda digest: base64.b64encode(
                user_data(
                    parameter_name=args.parameter_name, role=args.role, region=s.region, boot_digest=digest
                ).encode()
            ).decode()
        ),
        update_default_version=True,
        tag_specifications=[
            {"resource_type": kind, "tags": node_tags} for kind in ("instance", "volume", "network-interface")
        ],
        tags=node_tags,
        opts=child(parent),
    )


def asg_tags(tags: Mapping[str, str], role: Role, name: str) -> list[aws.autoscaling.GroupTagArgsDict]:
    """Auto Scaling groups take tags as a list; each is propagated to the instances they launch."""
    merged = tagged(tags, name, **{TAG_ROLE: role.value})
    return [{"key": k, "value": v, "propagate_at_launch": True} for k, v in sorted(merged.items())]
