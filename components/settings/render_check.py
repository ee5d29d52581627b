"""Render both roles' Trino configuration before anything is deployed, with the node agent's own
renderer, from the same node settings JSON the nodes will read.

The stack parser checks the keys it knows; the renderer (node_agent/render.py) is what a booting
node runs, and anything it refuses leaves the node without Trino while `pulumi up` reports
success. So the parse ends here: the node settings the program will store in SSM are computed
(components/nodes/node_settings.py) with stand-ins of realistic length for the values only AWS knows
(the coordinator address, the generated secrets' ARNs), written to JSON and read back exactly as
bootstrap reads them, checked against the SSM Advanced tier's size, and rendered for a coordinator
and a worker. Every refusal is reported with the stack key to change, so the parser and the
renderer can never disagree about what a stack may deploy.
"""

from __future__ import annotations

from functools import lru_cache

from components import aws_limits
from components.log_groups import NODE_LOGS, log_group_prefix
from components.nodes.node_settings import node_settings
from components.settings.model import ClusterSettings
from components.settings.reader import full_key
from node_agent.contract import NodeSettings, Role
from node_agent.render import Layout, NodeFacts, RenderError, Secrets, render

# Stand-ins for what AWS decides at `pulumi up`. Lengths matter (the size check), values do not.
STAND_IN_ACCOUNT = "123456789012"
STAND_IN_ADDRESS = "255.255.255.255"
STAND_IN_FACTS = NodeFacts(
    instance_id="i-0123456789abcdef0",
    instance_type="r6i.2xlarge",
    private_ip="10.255.255.254",
    availability_zone="eu-west-1a",
    memory_bytes=64 * 1024**3,
)
STAND_IN_PEM = "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n"
# What a generated secret's ARN looks like: name_prefix + 26 characters (Pulumi) + "-" and 6 (AWS).
GENERATED_SUFFIX = "-" + "0" * 26 + "-AbCdEf"

# Where each NodeSettings field comes from in the stack config (the first word of a render problem).
SOURCE_KEYS = (
    ("config_overrides", "configOverrides"),
    ("config.properties", "configOverrides"),
    ("catalog", "catalogs"),
    ("tls.enabled", "tls"),
    ("tls", "authentication"),
    ("retry_policy", "retryPolicy"),
    ("exchange_bucket", "exchangeBucket"),
    ("environment", "environment"),
    ("trino_version", "trinoVersion"),
)


def generated_arn(settings: ClusterSettings, label: str) -> str:
    name = f"{settings.name}/{label}{GENERATED_SUFFIX}"
    return f"arn:aws:secretsmanager:{settings.region}:{STAND_IN_ACCOUNT}:secret:{name}"


def planned_node_settings(settings: ClusterSettings) -> NodeSettings:
    """The NodeSettings the program will store, with stand-ins for what only AWS knows."""
    es = settings.elasticsearch
    prefix = log_group_prefix(settings.name)
    return node_settings(
        settings,
        coordinator_address=settings.network.coordinator_private_ip or STAND_IN_ADDRESS,
        region=settings.region,
        shared_secret_arn=generated_arn(settings, "shared-secret"),
        lifecycle_hook_name=f"{settings.name}-drain",
        log_groups={log_file.value: f"{prefix}/{suffix}" for log_file, (_, suffix) in NODE_LOGS.items()},
        management_password_secret_arn=generated_arn(settings, "management-password")
        if settings.security.authentication == "password"
        else None,
        elasticsearch_password_secret_arn=generated_arn(settings, "elasticsearch-password")
        if es is not None and es.password is not None
        else None,
    )


def stand_in_secrets(node: NodeSettings) -> Secrets:
    """Secret values as bootstrap would resolve them: present wherever the settings name a secret."""
    references = {
        value
        for properties in node.catalogs.values()
        for value in properties.values()
        if value.startswith("secretsmanager:")
    }
    tls = node.tls
    return Secrets(
        shared_secret="stand-in-shared-secret",
        management_password="stand-in" if tls.management_password_secret_arn else None,
        keystore_pem=STAND_IN_PEM if tls.keystore_secret_arn else None,
        password_file="user:$2y$10$stand-in" if tls.password_file_secret_arn else None,
        catalog_values=dict.fromkeys(references, "stand-in"),
    )


def source_key(problem: str) -> str:
    """The stack key a render problem traces back to."""
    for prefix, key in SOURCE_KEYS:
        if problem.startswith(prefix):
            return full_key(key)
    return full_key("trinoVersion")


def size_problems(settings: ClusterSettings) -> list[str]:
    """The node settings must fit the one SSM parameter the nodes read (Advanced tier at most)."""
    text = planned_node_settings(settings).to_json()
    if len(text.encode()) > aws_limits.SSM_ADVANCED_VALUE_BYTES.value:
        return [node_settings_too_big(settings, text)]
    return []


def render_problems(settings: ClusterSettings) -> list[str]:
    """Every reason a node of this stack would refuse to boot, each naming its stack key."""
    return list(_render_problems_of(planned_node_settings(settings).to_json()))


@lru_cache(maxsize=64)
def _render_problems_of(text: str) -> tuple[str, ...]:
    """Cached by the JSON: a TLS coordinator's render hashes a password with bcrypt (on purpose
    slow), and tests parse the same stacks many times."""
    node = NodeSettings.from_json(text)  # as bootstrap reads it
    secrets = stand_in_secrets(node)
    problems: list[str] = []
    for role in (Role.COORDINATOR, Role.WORKER):
        try:
            render(node, STAND_IN_FACTS, role, Layout(), secrets)
        except RenderError as error:
            for problem in error.problems:
                found = f"{source_key(problem)}: a {role.value} node would refuse to boot: {problem}"
                if problem not in {p.split(" would refuse to boot: ", 1)[1] for p in problems}:
                    problems.append(found)
    return tuple(problems)


def node_settings_too_big(settings: ClusterSettings, text: str) -> str:
    """Which keys make the node settings JSON too big for one SSM parameter, largest first."""
    limit = aws_limits.SSM_ADVANCED_VALUE_BYTES
    trino = settings.trino
    es = settings.elasticsearch
    parts = {
        "catalogs": len(repr(dict(trino.catalogs))),
        "configOverrides": len(repr(dict(trino.config_overrides))),
        "elasticsearchCaBundle": len(es.ca_bundle or "") if es else 0,
    }
    biggest = sorted((n for n in parts.items() if n[1]), key=lambda item: -item[1])
    detail = ", ".join(f"{full_key(name)} about {size} bytes" for name, size in biggest)
    return (
        f"{full_key(biggest[0][0] if biggest else 'catalogs')}: the node settings would be "
        f"{len(text.encode())} bytes of JSON, more than the {limit.value} an SSM parameter holds "
        f"({limit.what}; {limit.source}); largest parts: {detail or 'none'}"
    )
