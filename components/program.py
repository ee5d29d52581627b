"""The one program function: `pulumi up` (through __main__.py), `make plan` (under mocks) and
the Automation API (as an inline program) all run exactly this."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.cluster import TrinoCluster, TrinoClusterArgs
from components.nodes.incompatible_change import refuse_incompatible_change
from components.settings.model import ClusterSettings
from components.settings.stack_file import settings_from_pulumi


def stack_outputs(cluster: TrinoCluster) -> dict[str, object]:
    """What `pulumi stack output` shows: where to connect, what to watch, where the logs are."""
    return {
        "coordinatorAddress": cluster.coordinator_address,
        "coordinatorUrl": cluster.coordinator_url,
        "coordinatorGroupName": cluster.coordinator_group_name,
        "workerGroupName": cluster.worker_group_name,
        "logGroups": cluster.log_groups,
        "dashboardUrl": cluster.dashboard_url,
        "nodeSettingsParameter": cluster.settings_parameter_name,
    }


def provider_args(settings: ClusterSettings) -> dict[str, Any]:
    """The explicit provider's arguments: every `aws:` key the stack sets, which an explicit
    provider would otherwise ignore (components/settings/aws_provider.py), with the validated
    region, and the stack's default tags merged under the cluster's own."""
    p = settings.provider
    args: dict[str, Any] = {
        name: pulumi.Output.secret(value) if name in p.secret else value for name, value in p.options.items()
    }
    args["region"] = settings.region
    args["default_tags"] = {"tags": {**p.default_tags, **settings.tags}}
    return args


def build(settings: ClusterSettings) -> TrinoCluster:
    """Declare the cluster for already-validated settings, and export what users look up."""
    # One explicit provider: the region comes from the validated settings, and default tags
    # reach resources that take tags but are created by AWS on our behalf.
    # Before any resource: a Trino version change on a deployed cluster cannot roll.
    refuse_incompatible_change(settings)
    provider = aws.Provider("aws", **provider_args(settings))
    cluster = TrinoCluster(
        settings.name, TrinoClusterArgs(settings), opts=pulumi.ResourceOptions(providers=[provider])
    )
    for key, value in stack_outputs(cluster).items():
        pulumi.export(key, value)
    return cluster


def program() -> TrinoCluster:
    """Parse the stack config (every problem reported at once, before any resource), then build."""
    return build(settings_from_pulumi())
