"""Why the spool is a hand-made log and not stdlib sqlite3: both under the same disk fault, and their rates.

1. Fault: each store runs in a subprocess under a file-size limit (RLIMIT_FSIZE, with SIGXFSZ
   ignored, so writes past it fail with EFBIG as on a full disk; mounting a small filesystem is
   not allowed here). Records are appended until writes fail, the limit is lifted (the operator
   freed space), more are appended, and the store is reopened: every record answered "stored"
   must be there, none answered "failed" may be.
2. Rate: --writers threads appending ~1.3 KiB records (the indexed size of a real event), each
   append durable before it returns (the spool: one group-committed fsync; sqlite3: WAL with
   synchronous=FULL, one transaction per record).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from components.base import REPO_ROOT

ROOT = REPO_ROOT

from node_agent.querylog.spool import Spool, SpoolWriteError  # noqa: E402

RECORD = b"x" * 1300


class SqliteSpool:
    """The alternative: one row per record, WAL, synchronous=FULL (durable at each commit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self._connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, payload BLOB)")

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    def append(self, payload: bytes) -> None:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO events (payload) VALUES (?)", (payload,))
            db.execute("COMMIT")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def payloads(self) -> list[bytes]:
        return [row[0] for row in self._connection().execute("SELECT payload FROM events ORDER BY id")]


def open_store(kind: str, directory: Path) -> Spool | SqliteSpool:
    return Spool(directory, max_bytes=10**10) if kind == "spool" else SqliteSpool(directory / "spool.db")


def stored(kind: str, directory: Path) -> list[bytes]:
    store = open_store(kind, directory)
    if isinstance(store, Spool):
        return [r.payload for r in store.read(10**6, 10**12)]
    return store.payloads()


def fault_child(kind: str, directory: Path, limit: int) -> None:
    """Runs in the subprocess: append under the limit, lift it, append more; print the answers."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    store = open_store(kind, directory)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    answers: dict[str, bool] = {}
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    for i in range(60):
        try:
            store.append(b"%05d" % i + RECORD)
            answers[str(i)] = True
        except (SpoolWriteError, sqlite3.Error, OSError):
            answers[str(i)] = False
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    for i in range(60, 70):
        store.append(b"%05d" % i + RECORD)
        answers[str(i)] = True
    print(json.dumps(answers))


def fault_run(kind: str, limit: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        done = subprocess.run(
            [sys.executable, "-m", "bench.spool_choice", "--child", kind, str(directory), str(limit)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        answers = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
        kept = {int(p[:5]) for p in stored(kind, directory)}
        said_stored = {i for i, ok in answers.items() if ok}
        lost = sorted(said_stored - kept)
        ghosts = sorted(kept - said_stored)
        failed = len(answers) - len(said_stored)
        verdict = "correct" if not lost and not ghosts else "WRONG"
        return (
            f"{verdict}: {len(said_stored)} answered stored, {failed} failed; after reopening "
            f"{len(lost)} stored ones missing, {len(ghosts)} failed ones present"
        )


def rate(kind: str, writers: int, per_writer: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(kind, Path(tmp))

        def write() -> None:
            for _ in range(per_writer):
                store.append(RECORD)

        threads = [threading.Thread(target=write) for _ in range(writers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return writers * per_writer / (time.perf_counter() - started)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        fault_child(argv[1], Path(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--per-writer", type=int, default=300)
    args = parser.parse_args(argv)
    for kind, limit in (("spool", 20 * 1313 + 500), ("sqlite3", 96 * 1024)):
        print(f"{kind:8s} under a file-size limit: {fault_run(kind, limit)}")
    for kind in ("spool", "sqlite3"):
        per_second = rate(kind, args.writers, args.per_writer)
        print(f"{kind:8s} {args.writers} writers, durable appends: {per_second:7.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
