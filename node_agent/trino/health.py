"""What a healthy coordinator is: the one health model of the failover function and the rollout hook.

Measured on Trino 476 with the production render (`node-scheduler.include-coordinator=false`):
a coordinator with no worker runs no query at all, not even `EXPLAIN SELECT 1`. Every query
waits in the dispatcher until the first worker announces itself (`query-manager.required-workers`
is 1), and on a busy coordinator it also waits behind user queries in its resource group. A
standby never has workers (they announce only to the address, which it does not hold), and on a
first deploy the address is attached to nobody yet, so no worker can reach the holder either.
A probe that runs a query therefore calls every standby, and a new cluster's first coordinator,
dead, and calls a saturated one dead too.

So the probe runs no query. A coordinator is healthy when, each within the client's timeout:
1. `GET /v1/info` answers, says it is a coordinator and is no longer starting;
2. `GET /v1/info/state` is ACTIVE (not SHUTTING_DOWN, not DRAINING);
3. `GET /v1/node` answers for the management user: an authenticated and authorized request
   (over HTTPS with its password), so a coordinator whose authentication or access control is
   broken, or that refuses the probe's identity, is not called healthy.
All three are served by the HTTP server's own threads, never by the query queue, so neither an
empty fleet nor a queue full of user queries makes them fail; a hung or stopped JVM does.
"""

from __future__ import annotations

from dataclasses import dataclass

from node_agent.trino.admin import TrinoAdmin, TrinoError, TrinoUnavailable

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class Probe:
    healthy: bool
    reason: str  # "healthy", or what failed: "unreachable: ...", "starting", "state SHUTTING_DOWN", ...
    refused: bool = False  # the connection was refused: nothing listens (see TrinoUnavailable)


HEALTHY = Probe(True, "healthy")


def probe_coordinator(admin: TrinoAdmin) -> Probe:
    """Healthy = answers, is a started ACTIVE coordinator, and serves an authenticated admin call.

    Never raises for anything the coordinator does or fails to do; every failure is a reason.
    """
    try:
        info = admin.info()
    except TrinoUnavailable as exc:
        return Probe(False, f"unreachable: {exc}", refused=exc.refused)
    except TrinoError as exc:
        return Probe(False, f"/v1/info failed: {exc}")
    if not isinstance(info, dict):
        return Probe(False, f"/v1/info answered {info!r}, not an object")
    if info.get("starting", True):
        return Probe(False, "starting")
    if info.get("coordinator") is False:
        return Probe(False, "answers, but is not a coordinator")
    try:
        state = admin.state()
        if state != ACTIVE:
            return Probe(False, f"state {state}, not {ACTIVE}")
        admin.nodes()
    except TrinoUnavailable as exc:
        return Probe(False, f"unreachable: {exc}")
    except TrinoError as exc:
        return Probe(False, f"refuses the management user: {exc}")
    return HEALTHY
