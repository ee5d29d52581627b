"""One Trino server process on loopback: launched on an etc/ already written, stopped, its logs read.

The cluster side (rendering each node's etc/, readiness, a cluster's nodes together) is
tools.harness.trino; this module knows one process: which JDK runs it, the command that starts
it (the tarball's launcher, or the assembled install's java command), and what its logs say when
it does not start.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from node_agent.contract import MANAGEMENT_USER, Role
from node_agent.trino.admin import TrinoAdmin
from tools.harness import assembled
from tools.harness.processes import ManagedProcess, tail_of

DEFAULT_TRINO_JAVA_HOME = "/usr/lib/jvm/temurin-25-jdk-amd64"
WANTED_OPEN_FILES = 16384


class TrinoStartError(RuntimeError):
    """A node did not become ready; the message carries the end of its server log."""


def java_home() -> Path:
    """The JDK that runs Trino: $TRINO_JAVA_HOME, else Temurin 25 (Trino 476 needs Java 24+)."""
    home = Path(os.environ.get("TRINO_JAVA_HOME") or DEFAULT_TRINO_JAVA_HOME)
    if not (home / "bin" / "java").is_file():
        raise TrinoStartError(
            f"no Java at {home}/bin/java: Trino 476 needs Java 24 or newer; install Temurin 25 or set "
            "TRINO_JAVA_HOME to a JDK 24+ home"
        )
    return home


@dataclass
class TrinoNode:
    """One running Trino server process."""

    name: str
    role: Role
    url: str
    http_port: int
    node_id: str
    etc_dir: Path
    data_dir: Path
    log_path: Path
    console_path: Path
    process: ManagedProcess

    def admin(self, user: str = MANAGEMENT_USER, timeout: float = 10.0) -> TrinoAdmin:
        return TrinoAdmin(self.url, user=user, timeout=timeout)

    def running(self) -> bool:
        return self.process.running()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a normal JVM stop, not a drain), then SIGKILL after `timeout`."""
        return self.process.stop(timeout)

    def kill(self) -> int:
        """SIGKILL: the node dies the way a crashed instance does."""
        return self.process.kill()

    def wait_exit(self, timeout: float) -> int:
        """The process's exit code once it exits by itself (after a graceful shutdown: 0)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{self.name} ({self.url}) still running after {timeout}s") from exc

    def log_tail(self, lines: int = 60) -> str:
        return tail_of(self.log_path, lines) or tail_of(self.console_path, lines)


def launch_node(
    install: Path,
    java: Path,
    version: int,
    name: str,
    role: Role,
    *,
    etc_dir: Path,
    data_dir: Path,
    http_port: int,
) -> TrinoNode:
    """Run `bin/launcher run` of `install` on an already written etc/ (foreground: the PID is the
    JVM's); an assembled install has no launcher, so its java command is built the launcher's way.
    `java` is the JDK home (java_home()), `version` the release the install is."""
    launcher = install / "bin" / "launcher"
    if not launcher.is_file():
        assembled.drop_missing_event_listener(etc_dir, install)
    properties = _read_properties(etc_dir / "node.properties")
    config = _read_properties(etc_dir / "config.properties")
    # Trino writes its own log where log.path says; the launcher's stdout (JVM output, errors
    # before logging is set up) goes beside it.
    console_path = data_dir / "var" / "log" / "launcher.log"
    log_path = Path(config["log.path"]) if "log.path" in config else console_path
    env = assembled.environment(java)
    if launcher.is_file():
        command = [str(launcher), "run", f"--etc-dir={etc_dir}", f"--data-dir={data_dir}"]
    else:
        jvm = [ln.strip() for ln in (etc_dir / "jvm.config").read_text().splitlines() if ln.strip()]
        for link, target in (("etc", etc_dir), ("plugin", install / "plugin")):
            (data_dir / link).unlink(missing_ok=True)
            (data_dir / link).symlink_to(target)
        command = assembled.launch_command(
            install,
            java / "bin" / "java",
            version,
            etc_dir,
            [f for f in jvm if not f.startswith("#")],
            properties,
        )
    process = ManagedProcess(
        f"trino {name}",
        command,
        log_path=console_path,
        env=env,
        cwd=data_dir,
        nofile=WANTED_OPEN_FILES,
    )
    return TrinoNode(
        name=name,
        role=role,
        url=f"http://127.0.0.1:{http_port}",
        http_port=http_port,
        node_id=properties.get("node.id", name),
        etc_dir=etc_dir,
        data_dir=data_dir,
        log_path=log_path,
        console_path=console_path,
        process=process,
    )


def fail_if_exited(nodes: list[TrinoNode]) -> None:
    """Every node that exited, the coordinators first: a worker's "Cannot connect to discovery
    server" is what a coordinator's own refusal (a bad property) looks like from a worker."""
    exited = [(n, n.process.returncode()) for n in nodes if n.process.returncode() is not None]
    if not exited:
        return
    exited.sort(key=lambda pair: pair[0].role is not Role.COORDINATOR)
    raise TrinoStartError(
        "\n".join(
            f"{node.name} exited with code {code} while starting; Trino said "
            f"({node.log_path}):\n{startup_error(node.log_path, node.console_path)}"
            for node, code in exited
        )
    )


def startup_error(*logs: Path, lines: int = 40) -> str:
    """The part of a node's logs that says why Trino did not start (its own words).

    Airlift prints "Configuration errors:" followed by numbered lines, or an exception with its
    stack; show from the first error marker on, else the end of the log.
    """
    markers = ("Configuration errors", "ERROR", "Exception", "Error:")
    for log_path in logs:
        log_lines = tail_of(log_path, 100_000).splitlines()
        for index, line in enumerate(log_lines):
            if any(marker in line for marker in markers):
                return "\n".join(log_lines[index : index + lines])
    for log_path in logs:
        text = tail_of(log_path, lines)
        if text:
            return text
    return "(no log output at " + ", ".join(str(p) for p in logs) + ")"


def _read_properties(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "!")) and "=" in line:
                key, value = line.split("=", 1)
                values[key.strip()] = value.strip()
    return values
