"""`node-agent bootstrap`: render this node's Trino etc/ at boot, and gate readiness on a real query.

Inputs, in order: the node env file that user data wrote (which SSM parameter, which role, which
region; no secrets), the node settings in that SSM parameter, the secrets they point at (Secrets
Manager), all three read through node_config as every agent command reads them, and the
instance's facts (IMDSv2 and /proc/meminfo). Any failure exits non-zero with one line naming what
was missing, before anything is written: the Trino unit requires this one, so Trino never starts
on a half-made config. Writing is atomic and idempotent (see etc_writer.write_atomically).

`--check` says whether etc/ is a complete render (for the Trino unit's ExecStartPre), and
`--wait-ready` waits until the local Trino answers a real query, which is what the metrics,
query-log and lifecycle units wait for.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import sys
import time
from collections.abc import Callable
from pathlib import Path

from node_agent import etc_writer, render
from node_agent.bootstrap import log_shipping
from node_agent.contract import MANAGEMENT_USER, TRINO_DATA, TRINO_ETC, NodeSettings, Role
from node_agent.imds import IMDS_URL, Imds, ImdsError, memory_bytes, retried
from node_agent.node_config import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    NodeConfigError,
    default_env_file,
    load_secrets,
    load_settings,
    local_admin,
    read_env_file,
)
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable

IMDS_ATTEMPTS = 10


class BootstrapError(NodeConfigError):
    """A boot step after the node's inputs failed: instance metadata, the render, readiness."""


def instance_facts(
    imds: Imds,
    meminfo: Path,
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> render.NodeFacts:
    """IMDS can lag a few seconds behind early boot; retry it briefly, then give up loudly.

    `attempts` defaults to IMDS_ATTEMPTS as it is when called (not when this module was imported),
    so a test can shorten the schedule; `sleep` is the wait between attempts (a test records it).
    """
    try:
        identity = retried(imds.identity, IMDS_ATTEMPTS if attempts is None else attempts, sleep)
    except ImdsError as exc:
        raise BootstrapError(f"instance metadata (IMDSv2): {exc}", EXIT_UNAVAILABLE) from exc
    try:
        memory = memory_bytes(meminfo)
    except ImdsError as exc:
        raise BootstrapError(str(exc)) from exc
    return render.NodeFacts(
        instance_id=identity.instance_id,
        instance_type=identity.instance_type,
        private_ip=identity.private_ip,
        availability_zone=identity.availability_zone,
        memory_bytes=memory,
    )


def render_node(
    settings: NodeSettings,
    facts: render.NodeFacts,
    role: Role,
    layout: render.Layout,
    secrets: render.Secrets,
) -> dict[str, str]:
    try:
        return render.render(settings, facts, role, layout, secrets)
    except render.RenderError as exc:
        raise BootstrapError(f"cannot render Trino's configuration: {exc}") from exc


def give_to(owner: str | None, etc_dir: Path) -> None:
    """Let Trino's group read the render (files are 0640 and root-owned otherwise)."""
    if not owner:
        return
    try:
        group = grp.getgrnam(owner).gr_gid
        user = pwd.getpwnam(owner).pw_uid
    except KeyError:
        return  # no such account on this machine (a test host): nothing to hand over
    target = etc_dir.resolve()
    for path in [target, *target.rglob("*")]:
        os.chown(path, 0 if os.geteuid() == 0 else user, group)


def ship_node_logs(settings: NodeSettings, ctl: Path = log_shipping.AGENT_CTL) -> str:
    """Start the CloudWatch agent on the cluster's log groups; return what happened, for the log line.

    Never fatal: a node whose logs cannot ship still serves queries, and refusing to start Trino
    would turn one logging fault into an outage of every node the image boots.
    """
    try:
        return log_shipping.ship_logs(settings.log_groups, ctl=ctl).summary()
    except log_shipping.AgentNotInstalled as exc:
        return f"not shipped: {exc}"
    except log_shipping.LogShippingError as exc:
        _say("error", f"CloudWatch agent not started (Trino starts anyway): {exc}")
        return f"not shipped: {exc}"


# --- readiness -------------------------------------------------------------------------------
def wait_ready(
    admin: TrinoAdmin,
    settings: NodeSettings,
    role: Role,
    *,
    node_id: str,
    min_workers: int = 1,
    timeout: float = 600.0,
    interval: float = 2.0,
    coordinator: TrinoAdmin | None = None,
) -> str:
    """Block until this node does real work; return what proved it.

    Coordinator: at least `min_workers` active workers and a query over every catalog (SHOW
    SCHEMAS), since `starting=false` comes seconds before catalogs can be queried. With
    min_workers=0 no query can prove anything (none runs without a worker), so only the
    coordinator's own state is checked. Worker: the
    coordinator lists this node as active (asked through `coordinator`, else through this node's
    own discovery URI) and this worker itself says it is ACTIVE. Behind a password-protected
    coordinator the agent has no password on workers, so only the local state is checked.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            if role is Role.COORDINATOR:
                return _coordinator_ready(admin, settings, min_workers)
            return _worker_ready(admin, coordinator, node_id)
        except (TrinoError, TrinoUnavailable, _NotYet) as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise BootstrapError(f"trino not ready after {timeout:.0f}s: {last}", EXIT_UNAVAILABLE)
        time.sleep(interval)


class _NotYet(Exception):
    pass


def _coordinator_ready(admin: TrinoAdmin, settings: NodeSettings, min_workers: int) -> str:
    if min_workers == 0:
        # Measured on Trino 476 (include-coordinator=false): with no worker, no query finishes,
        # not even SELECT 1, so a coordinator that must be ready before its first worker can
        # only be judged by its own state.
        info = admin.info()
        state = admin.state()
        if info.get("starting") or state != "ACTIVE":
            raise _NotYet(f"coordinator starting={info.get('starting')}, state={state}")
        return "coordinator started and ACTIVE (no workers required; queries wait for the first worker)"
    # Counted from the web UI's stats, not a query: until a worker is there, a query would only
    # sit in the queue (and outlive our deadline there).
    workers = int(admin.stats().get("activeWorkers", 0))
    if workers < min_workers:
        raise _NotYet(f"{workers} of {min_workers} workers active")
    for catalog in sorted(settings.catalogs):
        admin.query(f'SHOW SCHEMAS FROM "{catalog}"', deadline_seconds=30)
    return f"{workers} active workers; catalogs answer: {', '.join(sorted(settings.catalogs)) or 'none'}"


def _worker_ready(admin: TrinoAdmin, coordinator: TrinoAdmin | None, node_id: str) -> str:
    info = admin.info()
    if info.get("starting") or admin.state() != "ACTIVE":
        raise _NotYet(f"this worker is starting={info.get('starting')}, state={admin.state()}")
    if coordinator is None:
        return "this worker is active (the coordinator takes no identity over HTTP to confirm it)"
    rows = coordinator.query(
        f"SELECT state FROM system.runtime.nodes WHERE node_id = '{node_id}'", deadline_seconds=30
    ).rows
    if not rows or rows[0][0] != "active":
        raise _NotYet(f"the coordinator does not list {node_id} as active yet ({rows})")
    return f"the coordinator lists {node_id} as active"


# --- command line ----------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="node-agent bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=default_env_file())
    parser.add_argument("--imds-url", default=IMDS_URL)
    parser.add_argument("--meminfo", type=Path, default=Path("/proc/meminfo"))
    parser.add_argument("--etc-dir", type=Path, default=Path(TRINO_ETC))
    parser.add_argument("--data-dir", type=Path, default=Path(TRINO_DATA))
    parser.add_argument(
        "--cloudwatch-ctl",
        type=Path,
        default=log_shipping.AGENT_CTL,
        help="the CloudWatch agent's control script (absent off the AMI: logs are then not shipped)",
    )
    parser.add_argument("--owner", default="trino", help="account whose group may read etc/ (if it exists)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 0 only if etc/ is a complete render")
    mode.add_argument(
        "--wait-ready", action="store_true", help="wait until the local Trino runs real queries"
    )
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--min-workers", type=int, default=1, help="coordinator: active workers to wait for")
    args = parser.parse_args(argv)

    layout = render.Layout(etc_dir=args.etc_dir, data_dir=args.data_dir)
    if args.check:
        if etc_writer.is_complete(args.etc_dir):
            return 0
        _say("error", f"{args.etc_dir} is not a complete render; refusing to start trino")
        return EXIT_CONFIG
    try:
        env = read_env_file(args.env_file)
        settings = load_settings(env)
        secrets = load_secrets(settings, env.role)
        facts = instance_facts(Imds(args.imds_url), args.meminfo)
        if args.wait_ready:
            admin = local_admin(settings, env.role, layout, secrets)
            coordinator = None
            if env.role is Role.WORKER and settings.tls.authentication != "password":
                coordinator = TrinoAdmin(
                    render.discovery_uri(settings, layout), user=MANAGEMENT_USER, timeout=10
                )
            proof = wait_ready(
                admin,
                settings,
                env.role,
                node_id=facts.instance_id,
                min_workers=args.min_workers,
                timeout=args.ready_timeout,
                coordinator=coordinator,
            )
            _say("ready", proof, role=env.role.value, instance=facts.instance_id)
            return 0
        files = render_node(settings, facts, env.role, layout, secrets)
        etc_writer.write_atomically(files, args.etc_dir)
        give_to(args.owner, args.etc_dir)
        logs = ship_node_logs(settings, args.cloudwatch_ctl)
    except NodeConfigError as exc:
        _say("error", str(exc))
        return exc.code
    except OSError as exc:
        _say("error", f"cannot write {args.etc_dir}: {exc}")
        return EXIT_UNAVAILABLE
    _say(
        "rendered",
        f"{len(files)} files for {env.role.value} {facts.instance_id} (trino {settings.trino_version})",
        digest=etc_writer.digest(files)[:16],
        logs=logs,
    )
    return 0


def _say(event: str, message: str, **extra: object) -> None:
    line = {"component": "bootstrap", "event": event, "message": message, **extra}
    stream = sys.stderr if event == "error" else sys.stdout
    stream.write(json.dumps(line, sort_keys=True) + "\n")
    stream.flush()
