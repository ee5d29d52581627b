"""What a node reads at boot that is not in its launch template, folded into one digest that is.

A node boots from its launch template plus what bootstrap reads: the node settings JSON in SSM and
the current version of every secret it resolves. A change to those alone would leave the template
unchanged, so no instance refresh would start and running nodes would keep the old config. The
digest of all of them goes into the user data (as a comment: the node does not read it), so the
template gets a new version exactly when a node would boot differently, and a `pulumi up` with
nothing changed produces the same digest and no new version.

Secret versions are read with ListSecretVersionIds (the `getSecretVersions` data source), never
the value: a `put-secret-value` on a configured secret (certificate, password file, catalog
credential) then rolls the nodes that read it at the next `pulumi up`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

CURRENT_STAGE = "AWSCURRENT"


def boot_digest(settings_json: str, secret_versions: Mapping[str, str]) -> str:
    """sha256 over the node settings and each secret's current version id, independent of order."""
    material = json.dumps({"settings": settings_json, "secrets": dict(sorted(secret_versions.items()))})
    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()


def current_version_id(result: aws.secretsmanager.GetSecretVersionsResult) -> str:
    for version in result.versions or []:
        if CURRENT_STAGE in (version.version_stages or []):
            return str(version.version_id)
    return ""


def configured_secret_versions(arns: Sequence[str], parent: pulumi.Resource) -> dict[str, pulumi.Output[str]]:
    """Current version id of each secret the stack config names (not created by the program)."""
    options = pulumi.InvokeOutputOptions(parent=parent)
    return {
        arn: aws.secretsmanager.get_secret_versions_output(secret_id=arn, opts=options).apply(
            current_version_id
        )
        for arn in sorted(set(arns))
    }


def role_boot_digest(
    settings_json: pulumi.Input[str],
    generated: Mapping[str, pulumi.Input[str]],
    configured: Mapping[str, pulumi.Input[str]],
) -> pulumi.Output[str]:
    """The digest for one role: the settings plus the versions of the secrets that role reads.

    `generated` maps a label to the version id of a secret the program stores (its ARN is not
    known before creation, so the label names it); `configured` maps an ARN to its current version.
    """
    versions = pulumi.Output.all(**{**dict(generated), **dict(configured)})
    digest = pulumi.Output.all(settings_json, versions).apply(lambda v: boot_digest(v[0], v[1]))
    # Version ids are not secret, and a one-way hash reveals nothing; the resources they come from
    # are marked secret as a whole, which would otherwise hide the user data in every plan.
    return pulumi.Output.unsecret(digest)
