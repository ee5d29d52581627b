"""Child processes that are always stopped: by their owner, by a fixture finalizer, or at exit.

Every server runs in its own process group (a new session), so stopping it also stops whatever it
forked (Elasticsearch's CLI starts the server JVM as a child). All live processes are registered
here and killed by an atexit hook, and SIGTERM is turned into a normal exit so that hook runs when
CI or a user stops the run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_live: set[ManagedProcess] = set()
_lock = threading.Lock()


class ManagedProcess:
    """One server process, its output in a log file, stoppable as a whole process group."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        nofile: int | None = None,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        preexec: Callable[[], None] | None = _raise_nofile(nofile) if nofile else None
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
        with _lock:
            _live.add(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def returncode(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit; raises subprocess.TimeoutExpired if it does not."""
        code = self.popen.wait(timeout=timeout)
        self._forget()
        return code

    def terminate(self) -> None:
        """Send SIGTERM to the process group without waiting (stop several servers in parallel)."""
        if self.running():
            self._signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM the process group, then SIGKILL it if it is still there after `timeout`."""
        if self.running():
            self._signal(signal.SIGTERM)
            try:
                return self.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int:
        """SIGKILL the whole process group: the crash a real node can have."""
        self._signal(signal.SIGKILL)
        code = self.popen.wait(timeout=30)
        self._forget()
        return code

    def tail(self, lines: int = 40) -> str:
        return tail_of(self.log_path, lines)

    def _signal(self, sig: signal.Signals) -> None:
        # The group outlives its leader when the leader forked (Elasticsearch), so signal the group
        # even after the leader has exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def _forget(self) -> None:
        # A group member that outlived its leader must not linger past the leader's stop.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with _lock:
            _live.discard(self)
        if not self._log.closed:
            self._log.close()

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.popen.pid})"


def tail_of(path: Path, lines: int) -> str:
    """The last `lines` lines of a log ("" before the server wrote one)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def _raise_nofile(wanted: int) -> Callable[[], None]:
    """Raise the child's soft open-files limit (Trino refuses to start below 4096)."""

    def apply() -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft == resource.RLIM_INFINITY or soft >= target:
            return
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))

    return apply


def nofile_limit_problem(wanted: int) -> str | None:
    """Say why a child cannot get `wanted` open files, or None when it can."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        return (
            f"the hard open-files limit is {hard}, below the {wanted} needed (raise it: ulimit -Hn {wanted})"
        )
    return None


def live_processes() -> list[ManagedProcess]:
    with _lock:
        return sorted(_live, key=lambda p: p.pid)


def stop_all(timeout: float = 20.0) -> None:
    """Stop every process still registered: SIGTERM all groups, wait, then SIGKILL the rest."""
    procs = live_processes()
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            proc.kill()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)


atexit.register(stop_all)
if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
    signal.SIG_DFL,
    None,
):
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
