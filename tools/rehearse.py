"""Boot a stack's Trino configuration on this machine before rolling it out: `make rehearse STACK=dev`.

The stack file is read the way `pulumi up` reads it, turned into the same NodeSettings the nodes
get, and rendered by the same renderer for a coordinator and workers on loopback. Catalogs whose
connector is not in the local install are skipped (and named); everything else, overrides
included, goes to Trino as it would in the cloud, so a property Trino rejects fails here, with
Trino's own words, instead of on a fleet of new instances.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from secrets import token_urlsafe

import yaml

from components.base import REPO_ROOT
from components.nodes.node_settings import node_settings
from components.settings.model import ConfigError
from components.settings.stack_file import load_stack_settings, read_stack_file
from node_agent import node_config, render
from node_agent.bootstrap import command as bootstrap
from node_agent.contract import MANAGEMENT_USER, NodeSettings, Role
from node_agent.render import RenderError
from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable
from tools.harness import downloads
from tools.harness.trino import SMOKE_QUERY, TrinoCluster, TrinoFactory
from tools.harness.trino_node import TrinoStartError

REPO = REPO_ROOT
REHEARSAL_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:rehearsal-shared-secret"
DEFAULT_MAX_WORKERS = 2  # a laptop-sized rehearsal; the stack's own size is printed beside it


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack to rehearse (reads Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a stack config key for this rehearsal (VALUE is YAML: 3, true, [a, b], {k: v})",
    )
    parser.add_argument(
        "--property",
        dest="properties",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="add a Trino property to the stack's configOverrides for this rehearsal",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"workers to boot (default: the stack's desired capacity, at most {DEFAULT_MAX_WORKERS}; "
        "0 runs a lone coordinator that also executes queries)",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="nodes' etc/, data and logs (default: .cache/rehearse/<stack>)"
    )
    parser.add_argument("--smoke-and-exit", action="store_true", help="stop after the smoke query")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the cluster")
    return parser.parse_args(argv)


def stack_overrides(stack: str, sets: list[str], properties: list[str]) -> dict[str, object]:
    """--set and --property as overrides for load_stack_settings; bad syntax is a usage error."""
    overrides: dict[str, object] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE, e.g. --set workerDesiredCapacity=1")
        overrides[key] = yaml.safe_load(value) if value else ""
    if properties:
        raw, _secret = read_stack_file(stack)
        existing = json.loads(raw.get("presto-on-aws:configOverrides", "{}") or "{}")
        given = overrides.get("configOverrides")
        if given and not isinstance(given, dict):
            raise SystemExit(
                f"--set configOverrides={given!r}: expected a map, e.g. {{query.max-memory: 2GB}}"
            )
        merged: dict[str, object] = dict(given if isinstance(given, dict) and given else existing)
        for item in properties:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise SystemExit(
                    f"--property {item!r}: expected NAME=VALUE, e.g. --property query.max-memory=2GB"
                )
            merged[name] = value
        overrides["configOverrides"] = merged
    return overrides


# Connector names whose plugin directory is not simply the name with "_" turned into "-".
PLUGIN_OF_CONNECTOR = {"gsheets": "google-sheets", "hive-hadoop2": "hive"}


def plugin_of(connector: str) -> str:
    return PLUGIN_OF_CONNECTOR.get(connector, connector.replace("_", "-"))


def local_node_settings(
    settings: NodeSettings, plugins: set[str], exchange_dir: Path
) -> tuple[NodeSettings, list[str]]:
    """The stack's node settings, minus what cannot run on this machine, and notes saying what changed."""
    notes: list[str] = []
    kept: dict[str, dict[str, str]] = {}
    for name, properties in settings.catalogs.items():
        connector = properties.get("connector.name", "")
        if plugin_of(connector) in plugins:
            kept[name] = properties
        else:
            notes.append(
                f"catalog {name!r} skipped: connector {connector!r} is not in Trino's server tarball"
            )
    changes: dict[str, object] = {"catalogs": kept}
    if settings.tls.enabled:
        notes.append(
            "TLS rehearsed with a throwaway self-signed certificate and generated passwords "
            "(the real ones are cloud secrets)"
        )
    if settings.exchange_bucket and settings.retry_policy == "TASK":
        notes.append("exchange manager writes to a local directory instead of the S3 bucket")
        changes["exchange_bucket"] = str(exchange_dir)
    return dataclasses.replace(settings, **changes), notes  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class SecureLogin:
    """How to reach a rehearsal of a TLS stack: its HTTPS URL, certificate file and a user."""

    url: str
    certificate_file: Path
    user: str
    password: str


def rehearsal_secrets(settings: NodeSettings, base_dir: Path) -> tuple[render.Secrets, SecureLogin | None]:
    """Secrets for a local rehearsal: a fresh shared secret and, for a TLS stack, a self-signed
    certificate for 127.0.0.1 and generated passwords for the agent and a `rehearsal` user, so
    the rehearsal serves HTTPS with passwords the way the stack's coordinators do."""
    shared = token_urlsafe(32)
    if not settings.tls.enabled:
        return render.Secrets(shared_secret=shared), None
    import bcrypt

    from tools.harness.certs import issue_certificate

    certificate_pem, key_pem = issue_certificate(
        "presto-on-aws rehearsal", dns_names=["localhost"], ip_addresses=["127.0.0.1"], valid_days=7
    )
    certificate_file = base_dir / "rehearsal-certificate.pem"
    certificate_file.write_text(certificate_pem)
    password = token_urlsafe(16)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(10)).decode()
    secrets = render.Secrets(
        shared_secret=shared,
        management_password=token_urlsafe(24),
        keystore_pem=certificate_pem + key_pem,
        password_file=f"rehearsal:$2y{hashed[3:]}\n" if settings.tls.authentication == "password" else None,
    )
    login = SecureLogin("", certificate_file, "rehearsal", password)
    return secrets, login


def wait_secure_ready(
    cluster: TrinoCluster, secrets: render.Secrets, login: SecureLogin, workers: int, timeout: float
) -> SecureLogin:
    """The agent's own ready gate over HTTPS (the coordinator takes no identity over HTTP), then
    the smoke query as the rehearsal user, trusting only the rehearsal's certificate."""
    config = dict(
        line.split("=", 1)
        for line in (cluster.coordinator.etc_dir / "config.properties").read_text().splitlines()
        if "=" in line
    )
    layout = render.Layout(https_port=int(config["http-server.https.port"]))
    agent = node_config.local_admin(cluster.settings, Role.COORDINATOR, layout, secrets, timeout=30)
    login = dataclasses.replace(login, url=f"https://127.0.0.1:{layout.https_port}")
    user = TrinoAdmin(
        login.url,
        user=login.user,
        password=login.password if secrets.password_file else None,
        ca_bundle=str(login.certificate_file),
        timeout=30,
    )
    deadline = time.monotonic() + timeout
    try:
        # Workers active first (catalogs are left out: a stack's metastore is not reachable here).
        bootstrap.wait_ready(
            agent,
            dataclasses.replace(cluster.settings, catalogs={}),
            Role.COORDINATOR,
            node_id=cluster.coordinator.node_id,
            min_workers=workers,
            timeout=timeout,
        )
    except bootstrap.BootstrapError as exc:
        raise TrinoStartError(f"{exc}; coordinator log:\n{cluster.coordinator.log_tail()}") from exc
    last = "no answer yet"
    while time.monotonic() < deadline:  # catalogs answer a few seconds after workers (trino-facts §2)
        try:
            rows = user.query(SMOKE_QUERY, deadline_seconds=60).rows
            if rows == [[25]]:
                return login
            last = f"smoke query returned {rows}"
        except (TrinoError, TrinoUnavailable) as exc:
            last = str(exc)
        time.sleep(1)
    raise TrinoStartError(f"smoke query over HTTPS as {login.user} failed ({last})")


def describe(cluster: TrinoCluster, seconds: float, login: SecureLogin | None = None) -> str:
    lines = [
        f"Ready in {seconds:.0f}s: {len(cluster.workers)} worker(s) active, `{SMOKE_QUERY}` returned 25.",
        f"  Catalogs:   {', '.join(sorted(cluster.settings.catalogs)) or 'none'}",
    ]
    if login is None:
        lines += [
            f"  Web UI:     {cluster.url}/ui/  (any user name)",
            f"  Metrics:    curl -H 'X-Trino-User: {MANAGEMENT_USER}' {cluster.url}/metrics",
            f"  Queries:    {cluster.url}/v1/statement (e.g. the Trino CLI: --server {cluster.url})",
        ]
    else:
        lines += [
            f"  Web UI:     {login.url}/ui/  (user {login.user}, password {login.password})",
            f"  Queries:    trino --server {login.url} --truststore-path {login.certificate_file} "
            f"--user {login.user} --password  (HTTP on {cluster.url} takes no user)",
        ]
    for node in cluster.nodes:
        lines.append(f"  {node.name:<16} log {node.log_path}")
        lines.append(f"  {'':<16} etc {node.etc_dir}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_stack_settings(args.stack, stack_overrides(args.stack, args.sets, args.properties))
    except ConfigError as exc:
        print(f"stack {args.stack!r} has configuration problems:\n{exc}", file=sys.stderr)
        return 2
    stack_nodes = node_settings(
        settings,
        coordinator_address="127.0.0.1",
        region=settings.region,
        shared_secret_arn=REHEARSAL_SECRET_ARN,
    )
    version = stack_nodes.trino_version
    print(f"Rehearsing stack {args.stack!r}: Trino {version}, cluster {settings.name!r}")
    try:
        # The harness's plugins plus every catalog's connector that Trino's server tarball has.
        wanted = {plugin_of(c.get("connector.name", "")) for c in stack_nodes.catalogs.values()}
        wanted &= downloads.trino_plugins_available(version)
        install = downloads.trino_install(version, {*downloads.TRINO_PLUGINS, *wanted})
    except downloads.DownloadError as exc:
        print(f"cannot get Trino {version}: {exc}", file=sys.stderr)
        return 1
    base_dir = args.dir or REPO / ".cache" / "rehearse" / args.stack
    plugins = {p.name for p in (install / "plugin").iterdir()}
    local, notes = local_node_settings(stack_nodes, plugins, base_dir / "exchange")
    for note in notes:
        print(f"  note: {note}")
    print(f"  catalogs: {', '.join(sorted(local.catalogs)) or 'none'}")
    overrides = ", ".join(f"{k}={v}" for k, v in sorted(local.config_overrides.items()))
    print(f"  config overrides: {overrides or 'none'}")
    workers = (
        args.workers
        if args.workers is not None
        else min(settings.workers.desired_capacity, DEFAULT_MAX_WORKERS)
    )
    print(f"  workers: {workers} (the stack runs {settings.workers.desired_capacity})")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    shutil.rmtree(base_dir, ignore_errors=True)  # logs of the last rehearsal stay until the next one
    base_dir.mkdir(parents=True)
    factory = TrinoFactory(base_dir, version=version, install=install)
    secrets, login = rehearsal_secrets(local, base_dir)
    started = time.monotonic()
    try:
        # No workers: the coordinator schedules the queries itself, so one JVM is enough.
        cluster = factory.start_cluster(
            workers=workers,
            settings=local,
            secrets=secrets,
            include_coordinator=workers == 0,
            timeout=args.timeout,
            wait=login is None,  # the harness's gate speaks plain HTTP; a TLS coordinator refuses it
        )
        if login is not None:
            login = wait_secure_ready(cluster, secrets, login, workers, args.timeout)
        print(describe(cluster, time.monotonic() - started, login), flush=True)
        if args.smoke_and_exit:
            return 0
        print("Running; Ctrl-C stops every node.", flush=True)
        while not stop.wait(1.0):
            for node in cluster.nodes:
                if not node.running():
                    print(
                        f"{node.name} exited on its own; its log ends:\n{node.log_tail(20)}", file=sys.stderr
                    )
                    return 1
        print("Stopping...", flush=True)
        return 0
    except RenderError as exc:
        print(f"the renderer refused the stack's settings: {exc}", file=sys.stderr)
        return 1
    except TrinoStartError as exc:
        print(f"Trino did not start with the stack's configuration:\n{exc}", file=sys.stderr)
        return 1
    finally:
        factory.stop_all()
        print(f"Stopped; nothing is left running. Logs and configs stay in {base_dir}")


if __name__ == "__main__":
    sys.exit(main())
