"""Is this node's Trino still running? The lifecycle agent completes a drain only once it is not."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node_agent.trino.admin import TrinoError, TrinoUnavailable


class TrinoProcess:
    """Finds the Trino JVM of one node by its working directory (the launcher chdir()s into the
    data dir and exec()s java), and then follows that process id, so "exited" means the process
    is gone or a zombie, not merely that its port closed or that it is still tearing down.
    """

    def __init__(self, data_dir: Path, proc: Path = Path("/proc")) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.proc = proc
        self._known: tuple[str, str] | None = None  # (pid, start time): survives pid reuse

    def running(self) -> bool:
        if self._known:
            pid, started = self._known
            fields = self._stat(pid)
            if fields and fields[19] == started:
                return fields[0] not in ("Z", "X") or self._threads_alive(pid)
            self._known = None
        for entry in self.proc.iterdir():
            if entry.name.isdigit() and self._is_trino(entry):
                fields = self._stat(entry.name)
                if fields and fields[0] not in ("Z", "X"):
                    self._known = (entry.name, fields[19])
                    return True
        return False

    def _threads_alive(self, pid: str) -> bool:
        """A JVM's main thread can be a zombie while its other threads still run the shutdown:
        the process has exited only when every thread has."""
        try:
            tasks = list((self.proc / pid / "task").iterdir())
        except OSError:
            return False
        for task in tasks:
            try:
                state = (task / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                return True
        return False

    def _is_trino(self, entry: Path) -> bool:
        try:
            return (
                Path(os.readlink(entry / "cwd")) == self.data_dir
                and b"java" in (entry / "cmdline").read_bytes()
            )
        except OSError:
            return False  # gone meanwhile, or not ours to read

    def _stat(self, pid: str) -> list[str] | None:
        """Fields of /proc/<pid>/stat after the command name: [0] is the state, [19] the start time."""
        try:
            text = (self.proc / pid / "stat").read_text()
        except OSError:
            return None
        return text.rsplit(")", 1)[-1].split()


def trino_alive(process: TrinoProcess, trino: Any) -> Callable[[], bool]:
    """Running if its JVM is visible, or else if it still answers HTTP.

    The process is the precise signal (its port closes a moment before it exits); the HTTP
    fallback keeps a misconfigured agent that cannot read /proc/<pid>/cwd (no CAP_SYS_PTRACE)
    from mistaking a busy Trino for a dead one and letting the instance go mid-query.
    """

    def alive() -> bool:
        if process.running():
            return True
        try:
            trino.info()
        except TrinoUnavailable:
            return False
        except TrinoError:
            return True  # it answered, just not with success
        return True

    return alive
