"""The Trino version a deployed cluster runs, and the refusal of a `trinoVersion` change that
cannot roll through one cluster.

Why refuse: Trino gives no work to a node whose version differs from the coordinator's. Measured
here, a 475 worker under a 476 coordinator beside a 476 worker is listed `inactive` and gets none
of a query's tasks (`python -m bench.mixed_versions`); 483 marks such a node invalid ("Node
version mismatch"). A version change through the instance refresh would leave each new worker
idle under the old coordinator, shrink capacity batch by batch, trip `workers-not-joining` (which
rolls the refresh back), and after the coordinator switchover drop every old worker at once.
Until the blue/green rollout exists, `pulumi up` and `pulumi preview` stop on such a change
before any resource is touched, and the message says what works instead.

The deployed version is the one in the node settings parameter that the last `pulumi up` wrote
and every node boots from. It is read with GetParametersByPath on the cluster's own path, which
answers an empty list for a cluster not deployed yet, where GetParameter would fail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.nodes.parameter import settings_parameter_name, settings_parameter_path
from components.settings.model import ClusterSettings, ConfigError

VERSION_FIELD = "trino_version"  # contract.NodeSettings.trino_version, as to_json() writes it


@dataclass(frozen=True)
class Deployed:
    """What the cluster's node settings parameter says: no parameter (not deployed), a version,
    or why the value could not be read."""

    parameter: str
    version: int | None = None
    unreadable: str | None = None


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
    version = raw.get(VERSION_FIELD) if isinstance(raw, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        return Deployed(parameter, unreadable=f"no integer {VERSION_FIELD!r} in the JSON")
    return Deployed(parameter, version=version)


def version_change_problem(settings: ClusterSettings, deployed: Deployed) -> str | None:
    """Why this `pulumi up` must not run, or None: the configured version is the deployed one, or
    nothing is deployed yet."""
    wanted = settings.trino.version
    if deployed.version is None or deployed.version == wanted:
        return None
    return (
        f"trinoVersion: {wanted}, but cluster {settings.name} runs Trino {deployed.version} "
        f"(node settings parameter {deployed.parameter}). A version change cannot roll through one "
        "cluster: Trino gives no work to a node of another version, so the instance refresh would "
        "leave every new node idle and the cluster short of workers (docs/operations.md, "
        '"Upgrading Trino"). Nothing was changed. Set trinoVersion back to '
        f"{deployed.version}; or run {wanted} as a second stack and move clients to it; or replace "
        "this cluster in one step (`pulumi destroy`, then `pulumi up`: an outage, and a new "
        "coordinator address unless coordinatorPrivateIp pins it)"
    )


def refuse_version_change(settings: ClusterSettings) -> None:
    """Stop the program, before it declares a resource, if the stack changes a deployed
    cluster's Trino version.

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
            f"cannot tell which Trino version cluster {settings.name} runs: {deployed.parameter} "
            f"holds {deployed.unreadable}; the trinoVersion change check is skipped for this run"
        )
    problem = version_change_problem(settings, deployed)
    if problem:
        raise ConfigError(settings.stack, [problem])
