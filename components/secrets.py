"""The cluster's own secrets: Trino's internal shared secret, the agent's management password and,
when given as a Pulumi secret, the Elasticsearch password.

Generated values come from Python's `secrets` module (a CSPRNG) and are stored once: the
secret version ignores later changes to its value, so each `pulumi up` does not rotate the
secret under running nodes. This needs no extra provider plugin (pulumi-random would), works the
same under the mocks of `make plan` and under `pulumi up`, and the value travels only as a Pulumi
secret (encrypted in the state). To rotate: `pulumi up --replace <urn of the secret version>`
followed by a rolling replacement of the nodes.
"""

from __future__ import annotations

import secrets as token_source
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.settings.model import SecretText

RECOVERY_WINDOW_DAYS = 7


def generated_secret() -> pulumi.Output[str]:
    """A fresh 64-character URL-safe value, marked secret from the moment it exists."""
    return pulumi.Output.secret(token_source.token_urlsafe(48))


@dataclass(frozen=True)
class ClusterSecretsArgs:
    """Which secrets exist depends on two settings alone: whether passwords are on (the agent's
    management user) and whether the Elasticsearch password came as a Pulumi secret to store."""

    cluster: str  # secret names and descriptions
    tags: Mapping[str, str]
    kms_key_arn: str | None  # the cluster's key, also the volumes'; None: the AWS-managed key
    management_password: bool  # securityAuthentication is "password"
    elasticsearch_password: SecretText | None  # a configured value to store (not an existing secret)


class ClusterSecrets(pulumi.ComponentResource):
    shared_secret_arn: pulumi.Output[str]
    management_password_arn: pulumi.Output[str] | None
    elasticsearch_password_arn: pulumi.Output[str] | None  # only when the program stores it
    versions: list[aws.secretsmanager.SecretVersion]  # what nodes must wait for: the values
    version_ids: dict[str, pulumi.Output[str]]  # label -> version id, part of the nodes' boot digest

    def __init__(
        self, name: str, args: ClusterSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterSecrets", name, None, opts)
        self._name = name
        self._args = args
        self.versions = []
        self.version_ids = {}
        self.shared_secret_arn = self._secret(
            "shared-secret",
            "Trino internal-communication.shared-secret (every node of the cluster)",
            generated_secret(),
            generated=True,
        )
        self.management_password_arn = None
        if args.management_password:
            self.management_password_arn = self._secret(
                "management-password",
                "Password of the node agent's management user on the coordinator",
                generated_secret(),
                generated=True,
            )
        self.elasticsearch_password_arn = None
        if args.elasticsearch_password is not None:
            self.elasticsearch_password_arn = self._secret(
                "elasticsearch-password",
                "Password of the query log's Elasticsearch user",
                pulumi.Output.secret(args.elasticsearch_password.value),
                generated=False,
            )
        self.register_outputs(
            {
                "sharedSecretArn": self.shared_secret_arn,
                "managementPasswordArn": self.management_password_arn,
                "elasticsearchPasswordArn": self.elasticsearch_password_arn,
            }
        )

    def _secret(
        self, label: str, description: str, value: pulumi.Output[str], *, generated: bool
    ) -> pulumi.Output[str]:
        cluster = self._args.cluster
        secret = aws.secretsmanager.Secret(
            f"{self._name}-{label}",
            name_prefix=f"{cluster}/{label}-",
            description=f"{description}; {cluster}",
            kms_key_id=self._args.kms_key_arn,
            recovery_window_in_days=RECOVERY_WINDOW_DAYS,
            tags=tagged(self._args.tags, f"{cluster}/{label}"),
            opts=child(self),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{self._name}-{label}",
            secret_id=secret.id,
            secret_string=value,
            # A generated value is created once; a configured one follows the stack config.
            opts=child(self, ignore_changes=["secretString"] if generated else None),
        )
        self.versions.append(version)
        self.version_ids[label] = version.version_id
        return secret.arn
