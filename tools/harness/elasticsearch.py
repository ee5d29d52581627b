"""A single-node Elasticsearch (or OpenSearch) on loopback, from its integration-test distribution on
Maven Central.

Elasticsearch and OpenSearch refuse to run as root, so when the harness runs as root the server runs as the
unprivileged user ES_USER (created by .ci/run), with its own config, data, logs and temp dirs
under one instance directory that user owns. Security is off: this is a test instance on
127.0.0.1, and the 8.x security plugin would otherwise refuse every unauthenticated request.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.harness import downloads
from tools.harness.ports import free_port
from tools.harness.processes import ManagedProcess

ES_USER = "esharness"
HEAP = "512m"
READY_TIMEOUT_SECONDS = 180.0


class ElasticsearchStartError(RuntimeError):
    """Elasticsearch did not come up; the message carries the end of its log."""


def es_java_home() -> Path:
    """$ES_JAVA_HOME, else Temurin 25, else the default JDK (8.18+ runs on Java 17 to 25)."""
    candidates = [
        os.environ.get("ES_JAVA_HOME"),
        "/usr/lib/jvm/temurin-25-jdk-amd64",
        "/usr/lib/jvm/default-java",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "bin" / "java").is_file():
            return Path(candidate)
    raise ElasticsearchStartError("no JDK for Elasticsearch: set ES_JAVA_HOME to a Java 17+ home")


def run_as_user() -> str | None:
    """The user Elasticsearch runs as: ES_USER when we are root (it refuses root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(ES_USER)
    except KeyError as exc:
        raise ElasticsearchStartError(
            f"Elasticsearch refuses to run as root and the user {ES_USER!r} does not exist: create it with "
            f"`useradd --system --no-create-home --shell /usr/sbin/nologin {ES_USER}` (.ci/run does)"
        ) from exc
    return ES_USER


def _reachable_by_others(path: Path) -> bool:
    """True when every directory from / down to `path` lets other users through (o+x)."""
    path = path.resolve()
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents] if p.exists())


class Elasticsearch:
    """One Elasticsearch server. `stop()` and `start()` keep its port and data, like a restart.

    OpenSearch (tools/harness/opensearch.py) is the same server as far as the harness is concerned: a
    subclass names its binary, config file, environment prefix and settings.
    """

    product = "Elasticsearch"
    binary = "elasticsearch"
    env_prefix = "ES"  # ES_JAVA_HOME, ES_PATH_CONF, ES_TMPDIR, ES_JAVA_OPTS
    default_version = downloads.ELASTICSEARCH_VERSION

    def __init__(self, base_dir: Path | None = None, *, version: str | None = None) -> None:
        self.version = version or self.default_version
        self.home = self.install(self.version)
        self.java_home = self.find_java(self.version)
        self.user = run_as_user()
        self._own_base = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="presto-on-aws-es-"))
        if self.user and not _reachable_by_others(self.base_dir.parent):
            # pytest's temp dirs are private to root; the server's user could not even enter them.
            # Keep the files in a fresh dir under /tmp and leave a link where the caller asked.
            real = Path(tempfile.mkdtemp(prefix="presto-on-aws-es-"))
            self.base_dir.parent.mkdir(parents=True, exist_ok=True)
            if self.base_dir.is_dir() and not any(self.base_dir.iterdir()):
                self.base_dir.rmdir()
            self.base_dir.symlink_to(real)
            self.base_dir, self._own_base = real, True
        self.http_port = free_port()
        self.transport_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.process: ManagedProcess | None = None
        self._prepare()

    def install(self, version: str) -> Path:
        return downloads.elasticsearch_install(version)

    def find_java(self, version: str) -> Path:
        return es_java_home()

    def product_settings(self) -> dict[str, object]:
        # The 8.x security plugin would otherwise refuse every unauthenticated request.
        return {"xpack.security.enabled": False}

    @property
    def log_path(self) -> Path:
        return self.base_dir / "logs" / "console.log"

    def _prepare(self) -> None:
        conf = self.base_dir / "config"
        conf.mkdir(parents=True, exist_ok=True)
        for name in ("jvm.options", "log4j2.properties"):
            shutil.copy(self.home / "config" / name, conf / name)
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        for sub in ("data", "logs", "tmp"):
            (self.base_dir / sub).mkdir(exist_ok=True)
        settings = {
            "cluster.name": "presto-on-aws-harness",
            "node.name": "harness",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": self.http_port,
            "transport.port": self.transport_port,
            "path.data": str(self.base_dir / "data"),
            "path.logs": str(self.base_dir / "logs"),
            **self.product_settings(),
            # A nearly full disk on a developer machine must not turn test indices read-only.
            "cluster.routing.allocation.disk.threshold_enabled": False,
        }
        (conf / f"{self.binary}.yml").write_text(
            "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())
        )
        os.chmod(self.base_dir, 0o755)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in [self.base_dir, *self.base_dir.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> Elasticsearch:
        """Start the server (again) and return once it answers cluster health."""
        if self.process is not None and self.process.running():
            return self
        e = self.env_prefix
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.base_dir),
            f"{e}_JAVA_HOME": str(self.java_home),
            f"{e}_PATH_CONF": str(self.base_dir / "config"),
            f"{e}_TMPDIR": str(self.base_dir / "tmp"),
            f"{e}_JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}",
        }
        self.process = ManagedProcess(
            self.binary,
            [str(self.home / "bin" / self.binary)],
            log_path=self.log_path,
            env=env,
            cwd=self.base_dir,
            nofile=65535,
            user=self.user,
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.returncode()
            if code is not None:
                raise ElasticsearchStartError(
                    f"{self.product} exited with code {code}; its log ({self.log_path}) ends:\n"
                    + self.process.tail(40)
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=2) as response:
                    health = json.loads(response.read())
                if health.get("status") in ("green", "yellow"):
                    return
                last = f"status {health.get('status')}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.5)
        tail = self.process.tail(40)
        self.process.stop(10)
        raise ElasticsearchStartError(
            f"{self.product} not ready after {timeout:.0f}s ({last}); log ends:\n{tail}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server; its port and data stay, so `start()` brings the same node back."""
        if self.process is not None:
            self.process.stop(timeout)
            self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def request(self, method: str, path: str, body: object = None) -> dict:
        """One REST call, product-neutral (both servers speak the same JSON for what tests ask)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def client(self):  # -> elasticsearch.Elasticsearch (imported late: only tests need the client)
        from elasticsearch import Elasticsearch as Client

        return Client(self.url, request_timeout=30)

    def close(self) -> None:
        self.stop()
        if self._own_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)
