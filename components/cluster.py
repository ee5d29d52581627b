"""TrinoCluster: the whole cluster, wired from its parts in the order a boot needs them.

Address, logs and secrets first; then the roles that may read them; then the node settings
that name them; then the instances that read those settings at boot; then the policies and
alarms that watch the instances.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child
from components.coordinators import CoordinatorPair, CoordinatorPairArgs, coordinator_asg_name
from components.iam.policies import Scope, partition_of
from components.iam.roles import ClusterIdentity, ClusterIdentityArgs
from components.lambdas.environment import (
    failover_environment,
    scale_in_environment,
    worker_health_environment,
)
from components.log_groups import ClusterLogging, ClusterLoggingArgs
from components.monitoring import ClusterMonitoring, ClusterMonitoringArgs
from components.network import ClusterNetwork, ClusterNetworkArgs
from components.nodes.ami import find_ami
from components.nodes.boot_digest import configured_secret_versions, role_boot_digest
from components.nodes.launch_template import NodeLaunchTemplateArgs
from components.nodes.parameter import (
    ClusterNodeSettings,
    ClusterNodeSettingsArgs,
    settings_parameter_name,
)
from components.rollout import RolloutAlarms, RolloutAlarmsArgs, WorkerSchedules, WorkerSchedulesArgs
from components.scaling import ScalingPolicies, ScalingPoliciesArgs
from components.secrets import ClusterSecrets, ClusterSecretsArgs
from components.settings.model import ClusterSettings, SecretText
from components.settings.trino import catalog_secret_arns
from components.workers import WorkerFleet, WorkerFleetArgs, drain_hook_name, worker_asg_name
from node_agent.contract import Role

# The service-linked role Auto Scaling acts as; it invokes the worker group's termination policy.
AUTOSCALING_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


@dataclass(frozen=True)
class TrinoClusterArgs:
    settings: ClusterSettings


class TrinoCluster(pulumi.ComponentResource):
    coordinator_address: pulumi.Output[str]
    coordinator_url: pulumi.Output[str]
    coordinator_group_name: pulumi.Output[str]
    worker_group_name: pulumi.Output[str]
    log_groups: dict[str, pulumi.Output[str]]
    dashboard_url: str
    settings_parameter_name: pulumi.Output[str]

    def __init__(self, name: str, args: TrinoClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_PREFIX + "TrinoCluster", name, None, opts)
        s = args.settings
        tags = s.tags  # built once; the components only read it (tagged() and the log groups copy it)
        network = ClusterNetwork(
            f"{name}-network",
            ClusterNetworkArgs(cluster=s.name, tags=tags, network=s.network, security=s.security),
            opts=child(self),
        )
        logs = ClusterLogging(
            f"{name}-logs",
            ClusterLoggingArgs(cluster=s.name, tags=tags, retention_days=s.log_retention_days),
            opts=child(self),
        )
        es_configured = s.elasticsearch.password if s.elasticsearch else None
        secrets = ClusterSecrets(
            f"{name}-secrets",
            ClusterSecretsArgs(
                cluster=s.name,
                tags=tags,
                kms_key_arn=s.volume.kms_key_arn,
                management_password=s.security.authentication == "password",
                # A password given as a Pulumi secret is stored here; a secret ARN is used as it is.
                elasticsearch_password=es_configured if isinstance(es_configured, SecretText) else None,
            ),
            opts=child(self),
        )
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        scope = caller.account_id.apply(
            lambda account: Scope(partition_of(s.region), s.region, account, s.name)
        )
        parameter_name = settings_parameter_name(s.name)
        es_password = secrets.elasticsearch_password_arn or (
            s.elasticsearch.password_secret_arn if s.elasticsearch else None
        )
        health_secrets = [secrets.management_password_arn] if secrets.management_password_arn else []
        coordinator_secrets = [
            secrets.shared_secret_arn,
            secrets.management_password_arn,
            es_password,
            s.security.certificate_secret_arn,
            s.security.password_file_secret_arn,
        ]
        identity = ClusterIdentity(
            f"{name}-identity",
            ClusterIdentityArgs(
                cluster=s.name,
                tags=tags,
                trino=s.trino,
                kms_key_arn=s.volume.kms_key_arn,
                query_log=s.elasticsearch,
                scope=scope,
                parameter_name=parameter_name,
                node_log_groups=list(logs.node_groups.values()),
                function_log_groups=logs.function_groups,
                coordinator_secret_arns=[a for a in coordinator_secrets if a is not None],
                # Every node's agent logs in as the management user when passwords are on.
                worker_secret_arns=[
                    a for a in (secrets.shared_secret_arn, secrets.management_password_arn) if a is not None
                ],
                health_secret_arns=health_secrets,
                # The switchover signs Trino's internal discovery calls with the shared secret.
                failover_secret_arns=[*health_secrets, secrets.shared_secret_arn],
                coordinator_eni_id=network.coordinator_address.id,
                coordinator_asg_name=coordinator_asg_name(s.name),
                worker_asg_name=worker_asg_name(s.name),
            ),
            opts=child(self),
        )
        node_settings = ClusterNodeSettings(
            f"{name}-node-settings",
            ClusterNodeSettingsArgs(
                settings=s,
                coordinator_address=network.coordinator_address.private_ip,
                shared_secret_arn=secrets.shared_secret_arn,
                management_password_arn=secrets.management_password_arn,
                elasticsearch_password_arn=secrets.elasticsearch_password_arn,
                log_groups=logs.node_groups,
                lifecycle_hook_name=drain_hook_name(s.name),
            ),
            opts=child(self),
        )
        ami = find_ami(s, self)
        boot = [node_settings.parameter, *secrets.versions]
        # What each role reads at boot besides its template: the settings JSON and its secrets'
        # current versions. Their digest in the user data makes a change roll exactly those nodes.
        catalog_arns = catalog_secret_arns(s.trino.catalogs)
        worker_generated = {k: v for k, v in secrets.version_ids.items() if k != "elasticsearch-password"}
        configured_for_coordinators = [
            a
            for a in (
                s.security.certificate_secret_arn,
                s.security.password_file_secret_arn,
                s.elasticsearch.password_secret_arn if s.elasticsearch else None,
            )
            if a
        ]
        digests = {
            Role.COORDINATOR: role_boot_digest(
                node_settings.parameter.value,
                secrets.version_ids,
                configured_secret_versions([*configured_for_coordinators, *catalog_arns], self),
            ),
            Role.WORKER: role_boot_digest(
                node_settings.parameter.value,
                worker_generated,
                configured_secret_versions(catalog_arns, self),
            ),
        }
        monitoring = ClusterMonitoring(
            f"{name}-monitoring",
            ClusterMonitoringArgs(
                cluster=s.name,
                region=s.region,
                tags=tags,
                monitoring=s.monitoring,
                worker_group_name=worker_asg_name(s.name),
                coordinator_group_name=coordinator_asg_name(s.name),
            ),
            opts=child(self),
        )
        rollout_alarms = RolloutAlarms(
            f"{name}-rollout-alarms",
            RolloutAlarmsArgs(
                cluster=s.name,
                tags=tags,
                alarm_topic_arns=s.monitoring.alarm_topic_arns,
                worker_grace_seconds=s.health.worker_grace_seconds,
                worker_group_name=worker_asg_name(s.name),
            ),
            opts=child(self),
        )

        def launch(
            role: Role, instance_type: str, profile: aws.iam.InstanceProfile
        ) -> NodeLaunchTemplateArgs:
            return NodeLaunchTemplateArgs(
                settings=s,
                role=role,
                instance_type=instance_type,
                ami_id=ami.id,
                root_device_name=ami.root_device_name,
                instance_profile_arn=profile.arn,
                # Only coordinators take clients (workers are reached by members alone).
                security_group_ids=[network.nodes.id]
                + ([network.clients.id] if role is Role.COORDINATOR else []),
                parameter_name=parameter_name,
                boot_digest=digests[role],
            )

        coordinators = CoordinatorPair(
            f"{name}-coordinators",
            CoordinatorPairArgs(
                cluster=s.name,
                tags=tags,
                count=s.coordinator.count,
                rollout=s.rollout,
                launch=launch(Role.COORDINATOR, s.coordinator.instance_type, identity.coordinator_profile),
                subnet_id=s.network.coordinator_subnet_id,
                function_subnet_ids=s.network.worker_subnet_ids,
                failover_role_arn=identity.failover_role.arn,
                failover_log_group=logs.function_groups["failover"],
                functions_security_group_id=network.functions.id,
                function_environment=failover_environment(
                    s,
                    network.coordinator_address.id,
                    secrets.management_password_arn,
                    secrets.shared_secret_arn,
                ),
                boot_dependencies=boot,
                rollback_alarm_names=[
                    monitoring.alarms["no-coordinator"].name,
                    monitoring.alarms["failed-queries"].name,
                ],
            ),
            opts=child(self),
        )
        workers = WorkerFleet(
            f"{name}-workers",
            WorkerFleetArgs(
                settings=s,
                launch=launch(Role.WORKER, s.workers.instance_types[0], identity.worker_profile),
                health_role_arn=identity.worker_health_role.arn,
                health_log_group=logs.function_groups["worker-health"],
                functions_security_group_id=network.functions.id,
                function_environment=worker_health_environment(
                    s, network.coordinator_address.id, secrets.management_password_arn
                ),
                scale_in_role_arn=identity.scale_in_role.arn,
                scale_in_log_group=logs.function_groups["scale-in"],
                scale_in_environment=scale_in_environment(
                    s, network.coordinator_address.private_ip, secrets.management_password_arn
                ),
                autoscaling_role_arn=scope.apply(
                    lambda sc: f"arn:{sc.partition}:iam::{sc.account}:{AUTOSCALING_ROLE}"
                ),
                boot_dependencies=boot,
                rollback_alarm_names=[
                    rollout_alarms.workers_not_joining.name,
                    monitoring.alarms["failed-queries"].name,
                ],
            ),
            opts=child(self),
        )
        ScalingPolicies(
            f"{name}-scaling",
            ScalingPoliciesArgs(
                cluster=s.name, tags=tags, scaling=s.scaling, worker_group_name=workers.group.name
            ),
            opts=child(self),
        )
        if s.rollout.worker_schedules:
            WorkerSchedules(
                f"{name}-schedules",
                WorkerSchedulesArgs(
                    cluster=s.name, schedules=s.rollout.worker_schedules, worker_group_name=workers.group.name
                ),
                opts=child(self),
            )
        scheme, port = s.security.client_scheme, s.security.client_port
        self.coordinator_address = network.coordinator_address.private_ip
        self.coordinator_url = self.coordinator_address.apply(lambda ip: f"{scheme}://{ip}:{port}")
        self.coordinator_group_name = coordinators.group.name
        self.worker_group_name = workers.group.name
        self.log_groups = {
            **logs.node_groups,
            **{f"function:{k}": v for k, v in logs.function_groups.items()},
        }
        self.dashboard_url = monitoring.dashboard_url
        self.settings_parameter_name = node_settings.parameter.name
        self.register_outputs(
            {
                "coordinatorAddress": self.coordinator_address,
                "coordinatorUrl": self.coordinator_url,
                "coordinatorGroupName": self.coordinator_group_name,
                "workerGroupName": self.worker_group_name,
                "logGroups": self.log_groups,
                "dashboardUrl": self.dashboard_url,
                "nodeSettingsParameter": self.settings_parameter_name,
            }
        )
