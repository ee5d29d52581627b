"""What a coordinator does with a worker of another Trino version: the fact issue 20 turns on.

A 476 coordinator (the harness's production render) with one 476 worker and one 475 worker
started against it. Prints, after the 475 worker has had time to announce: each node's state and
version in system.runtime.nodes, whether the coordinator counts it as an active worker, and on
which nodes the tasks of a many-split query ran. If the 475 worker gets no task, a version
change cannot roll through one cluster: the new nodes sit idle until the coordinator changes too.

Maven Central has no trino-server 475 tarball here, so the 475 worker is assembled from jars
(tools/harness/assembled.py, the tpch and memory plugins: the harness's catalogs), the way the
harness runs 483.
Run alone: `python -m bench.mixed_versions`. Takes one Trino download per version, then ~3 min.
"""

from __future__ import annotations

import time

OLD, NEW = 475, 476
ANNOUNCE_WAIT_SECONDS = 60.0  # several of the coordinator's 5 s node-state polls
SPLITS_SQL = "SELECT count(*), sum(quantity) FROM tpch.sf1.lineitem"


def main() -> None:
    from tools.harness.assembled import assembled_install
    from tools.harness.trino import Role, TrinoFactory, default_settings

    new = TrinoFactory(version=NEW)
    old = TrinoFactory(version=OLD, install=assembled_install(OLD, ("tpch", "memory")))
    try:
        cluster = new.start_cluster(workers=1, settings=default_settings(NEW))
        stranger = old.start_node(cluster, Role.WORKER, settings=default_settings(OLD))
        cluster.workers.append(stranger)
        started = time.monotonic()
        while time.monotonic() - started < ANNOUNCE_WAIT_SECONDS and stranger.running():
            time.sleep(5)
        print(f"{OLD} worker running after {ANNOUNCE_WAIT_SECONDS:.0f} s: {stranger.running()}")
        nodes = cluster.query("SELECT node_id, node_version, coordinator, state FROM system.runtime.nodes")
        for node_id, version, coordinator, state in nodes.rows:
            role = "coordinator" if coordinator else "worker"
            mark = f" <- the {OLD} worker" if node_id == stranger.node_id else ""
            print(f"node {node_id}: {role} version {version} state {state}{mark}")
        print(f"active workers counted by the {NEW} coordinator: {sorted(cluster.active_worker_ids())}")
        cluster.query(SPLITS_SQL, deadline_seconds=300)
        tasks = cluster.query(
            "SELECT node_id, count(*) FROM system.runtime.tasks WHERE query_id = "
            "(SELECT max_by(query_id, created) FROM system.runtime.queries "
            f"WHERE query = '{SPLITS_SQL}') GROUP BY node_id"
        )
        per_node = {str(node_id): int(count) for node_id, count in tasks.rows}
        print(f"tasks of `{SPLITS_SQL}` per node: {per_node}")
        print(f"tasks on the {OLD} worker: {per_node.get(stranger.node_id, 0)}")
        for node, label in ((stranger, f"{OLD} worker"), (cluster.coordinator, f"{NEW} coordinator")):
            lines = node.log_tail(400).splitlines()
            said = [line for line in lines if "ERROR" in line or "version" in line.lower()]
            print(f"{label} log, errors and version lines: {said[:8]}")
    finally:
        old.stop_all()
        new.stop_all()


if __name__ == "__main__":
    main()
