"""Which AMI the nodes boot: the configured one, or the newest one `make image` built for this
Trino version (it tags each image with `trino-version`)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.settings.model import ClusterSettings
from node_agent.contract import AMI_TAG_TRINO_VERSION


def find_ami(settings: ClusterSettings, parent: pulumi.Resource) -> pulumi.Output[aws.ec2.GetAmiResult]:
    """Looked up even when the id is given: the root device name comes from the image itself."""
    options = pulumi.InvokeOutputOptions(parent=parent)
    if settings.image.ami_id:
        return aws.ec2.get_ami_output(
            filters=[{"name": "image-id", "values": [settings.image.ami_id]}], opts=options
        )
    return aws.ec2.get_ami_output(
        most_recent=True,
        owners=list(settings.image.ami_owners),
        filters=[
            {"name": f"tag:{AMI_TAG_TRINO_VERSION}", "values": [str(settings.trino.version)]},
            {"name": "state", "values": ["available"]},
        ],
        opts=options,
    )
