"""The one program function: `pulumi up` (through __main__.py), `make plan` (under mocks) and
the Automation API (as an inline program) all run exactly this."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.cluster import TrinoCluster, TrinoClusterArgs
from components.settings import ClusterSettings, settings_from_pulumi


def build(settings: ClusterSettings) -> TrinoCluster:
    """Declare the cluster for already-validated settings, and export what users look up."""
    # One explicit provider: the region comes from the validated settings, and default tags
    # reach resources that take tags but are created by AWS on our behalf.
    provider = aws.Provider("aws", region=settings.region, default_tags={"tags": settings.tags})
    cluster = TrinoCluster(
        settings.name, TrinoClusterArgs(settings), opts=pulumi.ResourceOptions(providers=[provider])
    )
    pulumi.export("coordinatorAddress", cluster.coordinator_address)
    pulumi.export("coordinatorUrl", cluster.coordinator_url)
    pulumi.export("coordinatorGroupName", cluster.coordinator_group_name)
    pulumi.export("workerGroupName", cluster.worker_group_name)
    pulumi.export("logGroups", cluster.log_groups)
    pulumi.export("dashboardUrl", cluster.dashboard_url)
    pulumi.export("nodeSettingsParameter", cluster.settings_parameter_name)
    return cluster


def program() -> TrinoCluster:
    """Parse the stack config (every problem reported at once, before any resource), then build."""
    return build(settings_from_pulumi())
