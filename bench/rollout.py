"""Numbers of a rehearsed rollout: wall time per worker and for the coordinator pair, queries
failed, and how long the coordinator address was not answering during the switchover.

The rehearsal of tests/integration/rollout_rehearsal.py (real Trino 476 nodes rendered for
production, the stack's resources in moto server, the unchanged failover handler, the node agent's
lifecycle drain), run twice:
- "quiet moments": one client, half a second between queries, as in the integration test;
- "no quiet moments": three clients back to back, so the holder always has a query, and a short
  quiet-wait limit: the address moves at the limit and the queries on the old coordinator fail.
The worker drain uses Trino's production grace period (120 s, waited twice), so a worker takes
minutes here as it does on a real node; pass --grace 5s to see the rest of the rollout quickly.
moto moves the ENI in milliseconds; on AWS a detach and attach take a few seconds more.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from components.base import REPO_ROOT

ROOT = REPO_ROOT
PRODUCTION_GRACE = "120s"


def scenario(name: str, grace: str | None, *, clients: int, pause: float, quiet_wait: int) -> None:
    from tests.integration.rollout_rehearsal import Rehearsal
    from tools.harness.moto import MotoServer
    from tools.harness.trino import TrinoFactory, default_settings

    factory = TrinoFactory()
    moto = MotoServer()
    try:
        resources = moto.create_cluster_resources()
        base = default_settings(factory.version)
        # production's grace period unless --grace says otherwise (the harness default is 10 s)
        overrides = {**base.config_overrides, "shutdown.grace-period": grace or PRODUCTION_GRACE}
        settings = dataclasses.replace(base, config_overrides=overrides)
        workdir = Path(tempfile.mkdtemp(prefix="rollout-bench-"))
        rehearsal = Rehearsal(factory, moto, resources, workdir, settings)
        try:
            rehearsal.start()
            n = rehearsal.run(clients=clients, pause=pause, quiet_wait_seconds=quiet_wait)
        finally:
            rehearsal.stop()
    finally:
        moto.stop()
        factory.stop_all()
    workers = ", ".join(f"{s:.1f} s" for s in n.worker_seconds)
    grace = grace or PRODUCTION_GRACE
    print(f"{name}: clients {clients}, pause {pause} s, quiet wait {quiet_wait} s, grace {grace}")
    print(f"  worker rollout:      {workers} per worker; {len(n.worker_failed)} queries failed")
    print(f"  coordinator pair:    {n.coordinator_seconds:.1f} s; {len(n.coordinator_failed)} queries failed")
    print(f"  address not answering: {n.address_down_seconds:.3f} s in total (ENI detach to attach)")
    print(f"  queries succeeded:   {n.queries_ok}")
    for phase in n.phases:
        print(f"    {phase}")
    for record in n.switchover:
        if record["decision"] != "switchover_waiting_for_standby":
            print(f"    {record['decision']}: {record.get('instance')} {record.get('reason', '')}")
    for started, reason in n.worker_failed + n.coordinator_failed:
        print(f"    failed at {started:.1f}: {reason[:160]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grace", default=None, help="shutdown.grace-period of the workers (default: 120s)")
    parser.add_argument("--only", choices=("quiet", "busy"), default=None)
    options = parser.parse_args(argv)
    if options.only in (None, "quiet"):
        scenario("quiet moments", options.grace, clients=1, pause=1.5, quiet_wait=60)
    if options.only in (None, "busy"):
        scenario("no quiet moments", options.grace, clients=3, pause=0.0, quiet_wait=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
