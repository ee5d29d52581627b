"""Clients reach the coordinators, never the workers, whichever port they use.

With `tls: false` the client port is 8080, the port members talk on; a client rule on the group
every node shares would let clients query workers directly. The groups each instance and the
coordinator address carry are read from the declared graph (ids are `<name>-id` under mocks).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from node_agent.contract import TRINO_HTTP_PORT, TRINO_HTTPS_PORT
from tools.plan.mocks import Plan

PlanFor = Callable[[str], Plan]
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ENI = "aws:ec2/networkInterface:NetworkInterface"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def template_groups(plan: Plan, role: str) -> set[str]:
    template = plan.named(f"{plan.settings.name}-{role}s-template", TEMPLATE)
    return set(template.inputs["networkInterfaces"][0]["securityGroups"])


def own_group(plan: Plan, label: str) -> str:
    return plan.named(f"{plan.settings.name}-network-{label}", SECURITY_GROUP).name + "-id"


def sources_admitted(plan: Plan, groups: set[str], port: int) -> set[str]:
    return {
        r.inputs.get("cidrIpv4") or r.inputs["referencedSecurityGroupId"]
        for r in plan.of_type(INGRESS)
        if r.inputs["securityGroupId"] in groups and r.inputs["fromPort"] <= port <= r.inputs["toPort"]
    }


@pytest.mark.parametrize("config", ["dev", "prod"])
@pytest.mark.parametrize("port", [TRINO_HTTP_PORT, TRINO_HTTPS_PORT])
def test_workers_admit_only_members_and_the_functions(plan_for: PlanFor, config: str, port: int) -> None:
    plan = plan_for(config)
    members = {own_group(plan, "nodes"), own_group(plan, "functions")}
    assert sources_admitted(plan, template_groups(plan, "worker"), port) <= members


@pytest.mark.parametrize("config", ["dev", "prod"])
def test_configured_clients_reach_the_coordinators_and_their_address(plan_for: PlanFor, config: str) -> None:
    plan = plan_for(config)
    net = plan.settings.network
    clients = {*net.client_cidrs, *net.client_security_group_ids}
    port = plan.settings.security.client_port
    eni = plan.named(f"{plan.settings.name}-network-coordinator-address", ENI)
    assert clients and sources_admitted(plan, template_groups(plan, "coordinator"), port) >= clients
    assert sources_admitted(plan, set(eni.inputs["securityGroups"]), port) >= clients
