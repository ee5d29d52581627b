"""Numbers for the harness: download cost, time to a ready 3-node Trino cluster, peak memory.

Run: `.venv/bin/python -m bench.harness` (part of `make bench`). The cold download uses a fresh,
temporary Maven repository and cache, so it goes to Maven Central for real (about 1 GB); pass
--skip-cold to measure only the warm path. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.harness import downloads
from tools.harness.elasticsearch import Elasticsearch
from tools.harness.moto import MotoServer
from tools.harness.processes import live_processes
from tools.harness.prometheus import PrometheusFactory
from tools.harness.trino import TrinoFactory

MIB = 1024 * 1024


@contextmanager
def fresh_caches() -> Iterator[Path]:
    """A temporary Maven repository and install cache, as on a machine that never ran the harness."""
    with tempfile.TemporaryDirectory(prefix="bench-harness-") as tmp:
        saved = {k: os.environ.get(k) for k in ("PRESTO_ON_AWS_M2_REPOSITORY", "PRESTO_ON_AWS_CACHE")}
        saved["PRESTO_ON_AWS_SHARED_CACHE"] = os.environ.get("PRESTO_ON_AWS_SHARED_CACHE")
        os.environ["PRESTO_ON_AWS_M2_REPOSITORY"] = f"{tmp}/m2"
        os.environ["PRESTO_ON_AWS_CACHE"] = f"{tmp}/cache"
        os.environ["PRESTO_ON_AWS_SHARED_CACHE"] = f"{tmp}/shared"
        os.chmod(tmp, 0o755)
        try:
            yield Path(tmp)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def size_of(path: Path) -> int:
    """Bytes on disk under path, each hardlinked file counted once."""
    seen: dict[tuple[int, int], int] = {}
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            stat = p.stat()
            seen[(stat.st_dev, stat.st_ino)] = stat.st_size
    return sum(seen.values())


def bench_downloads(skip_cold: bool) -> None:
    artifacts = [downloads.trino_server(476), downloads.elasticsearch_zip()]
    if not skip_cold:
        with fresh_caches() as tmp:
            fetch = timed(lambda: [downloads.fetch(a) for a in artifacts])
            size = sum(a.local_path(downloads.maven_repository()).stat().st_size for a in artifacts)
            install = timed(lambda: (downloads.trino_install(476), downloads.elasticsearch_install()))
            print(f"cold download (Trino tarball + Elasticsearch zip): {fetch:.1f} s, {size / MIB:.0f} MiB")
            print(f"cold install (verify + extract both, once per machine): {install:.1f} s")
            print(
                f"  installed size: Trino {size_of(tmp / 'cache') / MIB:.0f} MiB, "
                f"Elasticsearch {size_of(tmp / 'shared') / MIB:.0f} MiB"
            )
            bench_core_and_zips(tmp)
    warm = timed(lambda: (downloads.trino_install(476), downloads.elasticsearch_install()))
    print(f"warm (both cached and installed): {warm * 1000:.1f} ms")


def bench_core_and_zips(tmp: Path) -> None:
    """The alternative: core tarball + plugin zips (without the HTTP event listener: not on Central)."""
    parts = [
        downloads.MavenArtifact("io.trino", "trino-server-core", "476", "tar.gz"),
        downloads.MavenArtifact("io.trino", "trino-tpch", "476", "zip"),
        downloads.MavenArtifact("io.trino", "trino-memory", "476", "zip"),
    ]
    fetch = timed(lambda: [downloads.fetch(a) for a in parts])
    size = sum(a.local_path(downloads.maven_repository()).stat().st_size for a in parts)

    def extract() -> None:
        import tarfile

        target = tmp / "core-and-zips"
        with tarfile.open(parts[0].local_path(downloads.maven_repository())) as archive:
            archive.extractall(target, filter="fully_trusted")
        for part in parts[1:]:
            with zipfile.ZipFile(part.local_path(downloads.maven_repository())) as zipped:
                zipped.extractall(target / "plugins")

    print(
        f"  for comparison, core tarball + tpch + memory zips: download {fetch:.1f} s, {size / MIB:.0f} MiB, "
        f"extract {timed(extract):.1f} s (and no HTTP event listener for 476)"
    )


def harness_rss() -> int:
    """Resident memory of this process plus every process group the harness started."""
    groups = {p.pid for p in live_processes()}
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pgid = int(stat.rsplit(")", 1)[1].split()[2])
            if pgid in groups or int(entry.name) == os.getpid():
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


class PeakSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.peak = max(self.peak, harness_rss())

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def bench_cluster(runs: int, version: int) -> None:
    """Per version: a 3-node cluster from nothing to ready, then one more worker to active (the
    worker's own boot, with a coordinator already up: what a scale-out adds)."""
    factory = TrinoFactory(version=version)
    clusters, workers = [], []
    try:
        for _ in range(runs):
            started = time.monotonic()
            cluster = factory.start_cluster(workers=2)
            clusters.append(time.monotonic() - started)
            started = time.monotonic()
            cluster.add_worker(wait=True)
            workers.append(time.monotonic() - started)
            cluster.stop()
    finally:
        factory.stop_all()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Trino {version}: 3-node start to ready (TPC-H + 2 active workers) median "
        f"{statistics.median(clusters):.1f} s of {runs} ({', '.join(f'{t:.1f}' for t in clusters)}); "
        f"one more worker to active median {statistics.median(workers):.1f} s "
        f"({', '.join(f'{t:.1f}' for t in workers)}); load average {load} on {os.cpu_count()} cores"
    )


def bench_memory() -> None:
    sampler = PeakSampler()
    sampler.start()
    trino = TrinoFactory()
    prometheus = PrometheusFactory()
    es = Elasticsearch()
    moto = None
    try:
        moto = MotoServer()
        es.start()
        cluster = trino.start_cluster(workers=2)
        prom = prometheus.start([cluster.url.removeprefix("http://")], scrape_interval="1s")
        cluster.query("SELECT orderstatus, count(*) FROM tpch.sf1.orders GROUP BY orderstatus")
        es.client().bulk(operations=[{"index": {"_index": "bench"}}, {"n": 1}], refresh=True)
        time.sleep(3)
        prom.query("up")
    finally:
        peak = sampler.stop()
        trino.stop_all()
        prometheus.stop_all()
        es.close()
        if moto is not None:
            moto.stop()
    print(
        f"peak memory of the whole harness (3 Trino nodes, Elasticsearch, Prometheus, moto, pytest side): "
        f"{peak / MIB:.0f} MiB RSS"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="do not re-download into a fresh cache")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("downloads", "cluster", "memory"), default=None)
    parser.add_argument("--versions", default="476,483", help="Trino versions for the cluster numbers")
    args = parser.parse_args()
    if args.only in (None, "downloads"):
        bench_downloads(args.skip_cold)
    if args.only in (None, "cluster"):
        for version in map(int, args.versions.split(",")):
            bench_cluster(args.runs, version)
    if args.only in (None, "memory"):
        bench_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
