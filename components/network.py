"""Security groups and the coordinator's fixed address.

The fixed address (an ENI with one private IP) lives here rather than in CoordinatorPair because
the node settings name it, and the coordinators must not launch before their settings exist: the
address comes first, then the settings, then the instances that read them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import TYPE_PREFIX, child, tagged
from components.settings.model import NetworkSettings, SecuritySettings
from node_agent.contract import AGENT_METRICS_PORT, TAG_ROLE, TRINO_HTTP_PORT, TRINO_HTTPS_PORT, Role

ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class ClusterNetworkArgs:
    """What the groups and the address need: the VPC and who may connect (`network`), and from
    `security` only which ports clients and the health queries use."""

    cluster: str  # names and descriptions
    tags: Mapping[str, str]
    network: NetworkSettings
    security: SecuritySettings


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class ClusterNetwork(pulumi.ComponentResource):
    """Trino's ports open only between members, to the functions and to the configured clients.

    Clients get a group of their own that only the coordinators (their instances and the address
    ENI) carry: on the shared nodes group, the client port (8080 when `tls: false`) would let every
    client reach every worker directly.
    """

    nodes: aws.ec2.SecurityGroup
    clients: aws.ec2.SecurityGroup
    functions: aws.ec2.SecurityGroup
    coordinator_address: aws.ec2.NetworkInterface

    def __init__(
        self, name: str, args: ClusterNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_PREFIX + "ClusterNetwork", name, None, opts)
        cluster, net, security = args.cluster, args.network, args.security
        self._name = name
        self._args = args
        self.nodes = self._security_group("nodes", f"Trino nodes of {cluster}")
        self.clients = self._security_group("clients", f"Trino clients to the coordinators of {cluster}")
        self.functions = self._security_group(
            "functions", f"Failover and worker-health functions of {cluster}"
        )
        # Members talk to each other (and the agents to their own node) on the HTTP port; the
        # shared secret authenticates that traffic, and this group keeps it inside the cluster.
        self._ingress("members", TRINO_HTTP_PORT, group=self.nodes.id, what="Trino between members")
        self._ingress("functions", TRINO_HTTP_PORT, group=self.functions.id, what="probes from the functions")
        if security.health_check_over_https:
            self._ingress("functions", TRINO_HTTPS_PORT, group=self.functions.id, what="health queries")
        client_port = security.client_port
        for cidr in net.client_cidrs:
            self._ingress(
                f"clients-{_slug(cidr)}", client_port, cidr=cidr, what="Trino clients", to=self.clients
            )
        for group in net.client_security_group_ids:
            self._ingress(f"clients-{group}", client_port, group=group, what="Trino clients", to=self.clients)
        for cidr in net.metrics_cidrs:
            self._ingress(f"metrics-{_slug(cidr)}", AGENT_METRICS_PORT, cidr=cidr, what="Prometheus")
        for group in net.metrics_security_group_ids:
            self._ingress(f"metrics-{group}", AGENT_METRICS_PORT, group=group, what="Prometheus")
        # Nodes reach AWS APIs, S3, the metastore and Elasticsearch, whose ports vary by user.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nodes-egress",
            security_group_id=self.nodes.id,
            ip_protocol="-1",
            cidr_ipv4=ANYWHERE,
            description="AWS APIs, S3, metastore, Elasticsearch",
            tags=tagged(args.tags, f"{cluster}-nodes-egress"),
            opts=child(self),
        )
        # The functions need only AWS APIs (HTTPS) and Trino's HTTP port on the nodes.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-functions-egress-aws",
            security_group_id=self.functions.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=ANYWHERE,
            description="AWS APIs",
            tags=tagged(args.tags, f"{cluster}-functions-egress-aws"),
            opts=child(self),
        )
        trino_ports = [TRINO_HTTP_PORT, *([TRINO_HTTPS_PORT] if security.health_check_over_https else [])]
        for port in trino_ports:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-functions-egress-trino-{port}",
                security_group_id=self.functions.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=self.nodes.id,
                description=f"Trino on the nodes, {port}",
                tags=tagged(args.tags, f"{cluster}-functions-egress-trino-{port}"),
                opts=child(self),
            )
        private_ips = [net.coordinator_private_ip] if net.coordinator_private_ip else None
        self.coordinator_address = aws.ec2.NetworkInterface(
            f"{name}-coordinator-address",
            subnet_id=net.coordinator_subnet_id,
            private_ips=private_ips,
            security_groups=[self.nodes.id, self.clients.id, *net.extra_security_group_ids],
            description=f"Fixed address of the active {cluster} coordinator (moved on failover)",
            tags=tagged(args.tags, f"{cluster}-coordinator-address", **{TAG_ROLE: Role.COORDINATOR.value}),
            opts=child(self),
        )
        self.register_outputs(
            {
                "nodesSecurityGroupId": self.nodes.id,
                "clientsSecurityGroupId": self.clients.id,
                "functionsSecurityGroupId": self.functions.id,
                "coordinatorAddress": self.coordinator_address.private_ip,
            }
        )

    def _security_group(self, label: str, description: str) -> aws.ec2.SecurityGroup:
        """A group in the cluster's VPC: named after this component, tagged after the cluster."""
        return aws.ec2.SecurityGroup(
            f"{self._name}-{label}",
            vpc_id=self._args.network.vpc_id,
            description=description,
            tags=tagged(self._args.tags, f"{self._args.cluster}-{label}"),
            opts=child(self),
        )

    def _ingress(
        self,
        label: str,
        port: int,
        *,
        what: str,
        cidr: str | None = None,
        group: pulumi.Input[str] | None = None,
        to: aws.ec2.SecurityGroup | None = None,
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-in-{label}-{port}",
            security_group_id=(to or self.nodes).id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            cidr_ipv4=cidr,
            referenced_security_group_id=group,
            description=f"{what} on {port}",
            tags=tagged(self._args.tags, f"{self._name}-in-{label}-{port}"),
            opts=child(self),
        )
