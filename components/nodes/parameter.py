"""The one SSM parameter per cluster that holds its NodeSettings as JSON.

The value is computed by the pure `node_settings()` under `Output.apply`, once the coordinator
address and the secret ARNs are known. It holds no secret (only ARNs), so a plain String
parameter is right; the Advanced tier is chosen only when the JSON outgrows the Standard 4 KB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import aws_limits
from components.base import TYPE_PREFIX, child, tagged
from components.nodes.node_settings import node_settings
from components.settings.model import ClusterSettings

STANDARD_TIER_LIMIT = aws_limits.SSM_STANDARD_VALUE_BYTES.value


def settings_parameter_path(cluster: str) -> str:
    """The cluster's own SSM path: the node settings parameter is the one under it."""
    return f"/presto-on-aws/{cluster}"


def settings_parameter_name(cluster: str) -> str:
    return f"{settings_parameter_path(cluster)}/node-settings"


def parameter_tier(value: str) -> str:
    return "Standard" if len(value.encode()) <= STANDARD_TIER_LIMIT else "Advanced"


@dataclass(frozen=True)
class ClusterNodeSettingsArgs:
    settings: ClusterSettings
    coordinator_address: pulumi.Input[str]
    shared_secret_arn: pulumi.Input[str]
    management_password_arn: pulumi.Input[str] | None
    elasticsearch_password_arn: pulumi.Input[str] | None
    log_groups: Mapping[str, pulumi.Input[str]]
    lifecycle_hook_name: str


class ClusterNodeSettings(pulumi.ComponentResource):
    parameter: aws.ssm.Parameter

    def __init__(
        self, name: str, args: ClusterNodeSettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterNodeSettings", name, None, opts)
        s = args.settings
        resolved = pulumi.Output.all(
            address=args.coordinator_address,
            shared=args.shared_secret_arn,
            management=args.management_password_arn,
            es=args.elasticsearch_password_arn,
            groups=pulumi.Output.all(**dict(args.log_groups)),
        )
        value = resolved.apply(
            lambda v: node_settings(
                s,
                coordinator_address=v["address"],
                region=s.region,
                shared_secret_arn=v["shared"],
                lifecycle_hook_name=args.lifecycle_hook_name,
                log_groups=v["groups"],
                management_password_secret_arn=v["management"],
                elasticsearch_password_secret_arn=v["es"],
            ).to_json()
        )
        self.parameter = aws.ssm.Parameter(
            name,
            name=settings_parameter_name(s.name),
            description=f"NodeSettings of Trino cluster {s.name}, read by every node at boot",
            type="String",
            value=value,
            tier=value.apply(parameter_tier),
            tags=tagged(s.tags, settings_parameter_name(s.name)),
            # The name is fixed (nodes look it up); a replacement must free it before re-creating.
            opts=child(self, delete_before_replace=True),
        )
        self.register_outputs({"parameterName": self.parameter.name})
