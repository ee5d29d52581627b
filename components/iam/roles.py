"""One IAM role per job: coordinator, worker, and each function (failover, worker health, scale-in).

The original template gave every node and function one role with `Resource: *`; here each role
gets only what its job needs, scoped to the cluster's own ARNs (see components/iam/policies.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.iam import policies
from components.iam.policies import NodeGrants, Scope
from components.settings.model import ElasticsearchConfig, TrinoSettings
from components.settings.trino import catalog_secret_arns
from node_agent.contract import TAG_ROLE, Role


@dataclass(frozen=True)
class ClusterIdentityArgs:
    """Of the settings, the grants depend only on what Trino reads (`trino`: buckets, catalogs'
    secrets, the Glue metastore), the cluster's KMS key and the query log's store; the rest is
    wiring: the ARNs and names of what the other components create."""

    cluster: str  # role descriptions and Name tags
    tags: Mapping[str, str]
    trino: TrinoSettings
    kms_key_arn: str | None
    query_log: ElasticsearchConfig | None
    scope: pulumi.Output[Scope]
    parameter_name: str
    node_log_groups: Sequence[pulumi.Input[str]]
    function_log_groups: Mapping[str, pulumi.Input[str]]
    coordinator_secret_arns: Sequence[pulumi.Input[str]]
    worker_secret_arns: Sequence[pulumi.Input[str]]
    health_secret_arns: Sequence[pulumi.Input[str]]
    failover_secret_arns: Sequence[pulumi.Input[str]]
    coordinator_eni_id: pulumi.Input[str]
    coordinator_asg_name: str
    worker_asg_name: str


class ClusterIdentity(pulumi.ComponentResource):
    coordinator_profile: aws.iam.InstanceProfile
    worker_profile: aws.iam.InstanceProfile
    failover_role: aws.iam.Role
    worker_health_role: aws.iam.Role
    scale_in_role: aws.iam.Role

    def __init__(
        self, name: str, args: ClusterIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterIdentity", name, None, opts)
        trino = args.trino
        self._name = name
        self._args = args
        buckets = [*trino.data_buckets, *([trino.exchange_bucket] if trino.exchange_bucket else [])]
        kms = args.kms_key_arn

        def grants(secret_arns: Sequence[str], groups: Sequence[str]) -> NodeGrants:
            return NodeGrants(args.parameter_name, groups, secret_arns, buckets, kms)

        # Every node renders the catalogs, so every node reads the secrets they refer to.
        catalog_arns = catalog_secret_arns(trino.catalogs)
        coordinator_doc = _document(
            args.scope,
            [*args.coordinator_secret_arns, *catalog_arns],
            args.node_log_groups,
            lambda scope, arns, groups, _: policies.coordinator_policy(
                scope, grants(arns, groups), glue=trino.metastore == "glue", query_log=args.query_log
            ),
        )
        worker_doc = _document(
            args.scope,
            [*args.worker_secret_arns, *catalog_arns],
            args.node_log_groups,
            lambda scope, arns, groups, _: policies.worker_policy(
                scope, grants(arns, groups), worker_asg=args.worker_asg_name
            ),
        )
        failover_doc = _document(
            args.scope,
            args.failover_secret_arns,  # the management user's password, the cluster's shared secret
            [args.function_log_groups["failover"]],
            lambda scope, arns, groups, eni: policies.failover_policy(
                scope,
                eni_id=eni,
                coordinator_asg=args.coordinator_asg_name,
                log_group=groups[0],
                secret_arns=arns,
                kms_key_arn=kms,
            ),
            extra=args.coordinator_eni_id,
        )
        health_doc = _document(
            args.scope,
            args.health_secret_arns,
            [args.function_log_groups["worker-health"]],
            lambda scope, arns, groups, _: policies.worker_health_policy(
                scope, worker_asg=args.worker_asg_name, log_group=groups[0], secret_arns=arns, kms_key_arn=kms
            ),
        )
        scale_in_doc = _document(
            args.scope,
            args.health_secret_arns,  # the management user's password, as for worker health
            [args.function_log_groups["scale-in"]],
            lambda scope, arns, groups, _: policies.scale_in_policy(
                scope, log_group=groups[0], secret_arns=arns, kms_key_arn=kms
            ),
        )
        coordinator = self._role("coordinator", "ec2", coordinator_doc)
        worker = self._role("worker", "ec2", worker_doc)
        self.failover_role = self._role("failover", "lambda", failover_doc)
        self.worker_health_role = self._role("worker-health", "lambda", health_doc)
        self.scale_in_role = self._role("scale-in", "lambda", scale_in_doc)
        self.coordinator_profile = self._profile("coordinator", coordinator)
        self.worker_profile = self._profile("worker", worker)
        self.register_outputs(
            {
                "coordinatorRoleArn": coordinator.arn,
                "workerRoleArn": worker.arn,
                "failoverRoleArn": self.failover_role.arn,
                "workerHealthRoleArn": self.worker_health_role.arn,
                "scaleInRoleArn": self.scale_in_role.arn,
            }
        )

    def _role(self, job: str, service: str, document: pulumi.Output[str]) -> aws.iam.Role:
        """The job's role with its one inline policy; no AWS-managed policy (see policies.py)."""
        cluster = self._args.cluster
        role = aws.iam.Role(
            f"{self._name}-{job}",
            assume_role_policy=json.dumps(policies.assume_role(service)),
            description=f"{job} of Trino cluster {cluster}",
            tags=tagged(self._args.tags, f"{cluster}-{job}", **{TAG_ROLE: job}),
            opts=child(self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{job}",
            role=role.id,
            policy=document,
            opts=child(self),
        )
        return role

    def _profile(self, job: str, role: aws.iam.Role) -> aws.iam.InstanceProfile:
        cluster = self._args.cluster
        return aws.iam.InstanceProfile(
            f"{self._name}-{job}",
            role=role.name,
            tags=tagged(self._args.tags, f"{cluster}-{job}", **{TAG_ROLE: Role(job).value}),
            opts=child(self),
        )


def _document(
    scope: pulumi.Output[Scope],
    secret_arns: Sequence[pulumi.Input[str]],
    groups: Sequence[pulumi.Input[str]],
    build: Callable[[Scope, list[str], list[str], Any], dict[str, Any]],
    extra: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """Resolve the ARNs a document names, then build it: the JSON is computed, never templated."""
    resolved = pulumi.Output.all(
        scope=scope, arns=pulumi.Output.all(*secret_arns), groups=pulumi.Output.all(*groups), extra=extra
    )
    return resolved.apply(
        lambda v: json.dumps(
            build(v["scope"], [a for a in v["arns"] if a], list(v["groups"]), v["extra"]), sort_keys=True
        )
    )
