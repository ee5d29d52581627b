"""`make test`'s suite as two pytest runs side by side: the integration suite and everything else.

Why: the integration suite spends much of its wall time waiting (drains wait out grace periods,
tests wait for queries and for nodes to be dropped), while the rest (unit, functions, agent,
image) is single-threaded Python. One after the other, the rest added its own minutes to CI's.
Side by side, the rest runs at a lower CPU priority (nice NICE_REST): the integration suite's
JVMs, whose tests wait on wall-clock deadlines, get the cores first, and the rest uses what they
leave idle. (Three parts, the integration suite split in two, kept CI's 2 cores saturated for the
whole run, took about as long as the suite one part after the other, and an IMDS test timed out.)

Each run writes to its own log, printed whole when that run ends (the two never interleave), each
with its own failures (-ra) and slowest tests. The summary at the end names each part's outcome,
and the exit status is non-zero if either part failed. Arguments go to both runs
(`python -m tools.run_tests -k drain`). Ctrl-C reaches both pytest processes (they share the
terminal's process group); each stops its servers as usual, and what each printed is shown.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# (name, marker expression, niceness); the integration suite first, it sets the wall time.
NICE_REST = 10
PARTS: tuple[tuple[str, str, int], ...] = (
    ("integration", "integration", 0),
    ("not integration", "not integration", NICE_REST),
)
PYTEST_OPTIONS = ("-q", "-ra", "--durations=40")  # 40: enough to see where CI time goes
# pytest's exit status 5: no test selected (e.g. a -k that matches tests of the other part only).
NO_TESTS_COLLECTED = 5


@dataclass
class Run:
    """One part's pytest process: where its output goes and how it ended."""

    part: str
    log_path: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started: float
    seconds: float = 0.0

    def outcome(self) -> str:
        code = self.process.returncode
        if code == 0:
            return "passed"
        if code == NO_TESTS_COLLECTED:
            return "no tests selected"
        return f"FAILED (pytest exit status {code})"

    def failed(self) -> bool:
        return self.process.returncode not in (0, NO_TESTS_COLLECTED)


def start(part: str, marker: str, niceness: int, args: Sequence[str], log_dir: Path) -> Run:
    log_path = log_dir / f"{part.replace(' ', '-')}.log"
    log = log_path.open("wb")
    nice = ["nice", "-n", str(niceness)] if niceness else []
    process = subprocess.Popen(
        [*nice, sys.executable, "-m", "pytest", *PYTEST_OPTIONS, "-m", marker, *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    return Run(part, log_path, process, log, time.monotonic())


def show(run: Run) -> None:
    print(f"\n### {run.part}: {run.outcome()} in {run.seconds:.0f} s", flush=True)
    sys.stdout.buffer.write(run.log_path.read_bytes())
    sys.stdout.flush()


def wait_all(runs: list[Run]) -> None:
    """Wait for every run; print each one's log as soon as it ends."""
    waiting = list(runs)
    while waiting:
        for run in list(waiting):
            if run.process.poll() is not None:
                run.seconds = time.monotonic() - run.started
                run.log.close()
                show(run)
                waiting.remove(run)
        if waiting:
            time.sleep(0.5)


def main(argv: Sequence[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="presto-on-aws-test-") as log_dir:
        runs = [start(part, marker, nice, argv, Path(log_dir)) for part, marker, nice in PARTS]
        print(
            "running "
            + " and ".join(f"'{r.part}' (pid {r.process.pid})" for r in runs)
            + " side by side; each part's output is printed whole when it ends",
            flush=True,
        )
        try:
            wait_all(runs)
        except KeyboardInterrupt:
            # Both pytest processes got the same SIGINT; let them stop their servers and report.
            for run in runs:
                run.process.wait()
            wait_all([r for r in runs if not r.log.closed])
            raise
    print("\n### summary")
    for run in runs:
        print(f"{run.part}: {run.outcome()} in {run.seconds:.0f} s")
    if all(r.process.returncode == NO_TESTS_COLLECTED for r in runs):
        print("no test selected in either part")
        return NO_TESTS_COLLECTED
    return 1 if any(r.failed() for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
