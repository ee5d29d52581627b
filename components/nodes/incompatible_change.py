"""What a deployed cluster's nodes run, and the refusal of a change old and new nodes could not
share a cluster through: `trinoVersion` and `environment`.

Why refuse: Trino gives no work to a node whose version differs from the coordinator's. Measured
here, a 475 worker under a 476 coordinator beside a 476 worker is listed `inactive` and gets none
of a query's tasks (`python -m bench.mixed_versions`); 483 marks such a node invalid ("Node
version mismatch"). The coordinator's discovery refuses a node of another node.environment
("Environment mismatch", tests/integration/test_node_compatibility.py). Either change through
the instance refresh would leave each new worker idle under the old coordinator, shrink capacity
batch by batch, trip `workers-not-joining` (which rolls the refresh back), and after the
coordinator switchover drop every old worker at once. Until the blue/green rollout exists,
`pulumi up` and `pulumi preview` stop on such a change before any resource is touched, and the
message says what works instead.

What the nodes run is what the node settings parameter says: the last `pulumi up` wrote it and
every node boots from it. It is read with GetParametersByPath on the cluster's own path, which
answers an empty list for a cluster not deployed yet, where GetParameter would fail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.nodes.parameter import settings_parameter_name, settings_parameter_path
from components.settings.model import ClusterSettings, ConfigError

# The node settings fields (contract.NodeSettings, as to_json() writes them) that old and new
# nodes must share: the stack key that sets each, and its JSON type. Trino gives no work to a node
# of another version; a node of another node.environment is refused by the coordinator's discovery.
SHARED_FIELDS: dict[str, tuple[str, type, str]] = {
    "trino_version": ("trinoVersion", int, "integer"),
    "environment": ("environment", str, "text"),
}


@dataclass(frozen=True)
class Deployed:
    """What the cluster's node settings parameter says: no parameter (not deployed), the values
    of the shared fields, or why the value could not be read."""

    parameter: str
    shared: Mapping[str, object] = field(default_factory=dict)
    unreadable: str | None = None

    @property
    def version(self) -> object:
        return self.shared.get("trino_version")


def read_deployed(names: Sequence[str] | None, values: Sequence[str] | None, cluster: str) -> Deployed:
    """The node settings among the parameters under the cluster's path (GetParametersByPath)."""
    parameter = settings_parameter_name(cluster)
    by_name = dict(zip(names or [], values or [], strict=True))
    if parameter not in by_name:
        return Deployed(parameter)
    try:
        raw = json.loads(by_name[parameter])
    except json.JSONDecodeError as exc:
        return Deployed(parameter, unreadable=f"not JSON ({exc})")
    if not isinstance(raw, dict):
        return Deployed(parameter, unreadable="not a JSON object")
    shared: dict[str, object] = {}
    for name, (_key, kind, word) in SHARED_FIELDS.items():
        value = raw.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return Deployed(parameter, unreadable=f"no {word} {name!r} in the JSON")
        shared[name] = value
    return Deployed(parameter, shared=shared)


def wanted_shared(settings: ClusterSettings) -> dict[str, object]:
    return {"trino_version": settings.trino.version, "environment": settings.environment}


def incompatible_change_problem(settings: ClusterSettings, deployed: Deployed) -> str | None:
    """Why this `pulumi up` must not run, or None: the nodes it would launch could share the
    cluster with the running ones (or nothing is deployed yet)."""
    wanted = wanted_shared(settings)
    changed = [
        name for name in SHARED_FIELDS if name in deployed.shared and deployed.shared[name] != wanted[name]
    ]
    if not changed:
        return None
    said = "; ".join(
        f"{SHARED_FIELDS[name][0]}: {wanted[name]}, but the running nodes have {deployed.shared[name]}"
        for name in changed
    )
    back = " and ".join(f"{SHARED_FIELDS[name][0]} back to {deployed.shared[name]}" for name in changed)
    return (
        f"{said} (cluster {settings.name}, node settings parameter {deployed.parameter}). This "
        "cannot roll through one cluster: Trino gives no work to a node of another version, and "
        "the coordinator's discovery refuses a node of another environment, so the instance "
        "refresh would leave every new node idle and the cluster short of workers "
        '(docs/operations.md, "Upgrading Trino"). Nothing was changed. Set '
        f"{back}; or run the new settings as a second stack and move clients to it; or replace "
        "this cluster in one step (`pulumi destroy`, then `pulumi up`: an outage, and a new "
        "coordinator address unless coordinatorPrivateIp pins it)"
    )


def refuse_incompatible_change(settings: ClusterSettings) -> None:
    """Stop the program, before it declares a resource, if the stack changes a deployed
    cluster's Trino version or environment.

    Read through the default provider, which takes the same `aws:` stack keys (region, profile,
    assumed role) as the program's explicit one, so it reads the same account and region. Not
    the explicit provider: an invoke through it waits for the provider to register, and one that
    cannot start (its plugin missing) then holds the program until the CLI gives up; measured with
    the real Pulumi CLI, a preview without the plugin ran into the test's 300 s timeout instead of
    failing in 2 s with the plugin's name.
    """
    found = aws.ssm.get_parameters_by_path(
        path=settings_parameter_path(settings.name),
        with_decryption=False,  # a String parameter; reading it needs no key
    )
    deployed = read_deployed(found.names, found.values, settings.name)
    if deployed.unreadable:
        # The parameter is this program's own and this run rewrites it; a hand-edited value must
        # not block the run that repairs it, but the check it disables is said out loud.
        pulumi.log.warn(
            f"cannot tell what cluster {settings.name}'s nodes run: {deployed.parameter} holds "
            f"{deployed.unreadable}; the trinoVersion and environment check is skipped for this run"
        )
    problem = incompatible_change_problem(settings, deployed)
    if problem:
        raise ConfigError(settings.stack, [problem])
