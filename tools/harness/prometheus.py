"""Prometheus servers (Debian's package) scraping targets on loopback.

Each server gets a generated config, its own TSDB directory and a free port, so the scrape config a
test needs (say, the agent's metrics endpoint) is the only thing it sees.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tools.harness.ports import free_port
from tools.harness.processes import ManagedProcess

PROMETHEUS_BINARY = "/usr/bin/prometheus"
READY_TIMEOUT_SECONDS = 60.0


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered a query with an error."""


def prometheus_binary() -> Path:
    found = shutil.which("prometheus") or (PROMETHEUS_BINARY if Path(PROMETHEUS_BINARY).is_file() else None)
    if not found:
        raise PrometheusError("prometheus is not installed: `apt-get install prometheus` (.ci/run does)")
    return Path(found)


def scrape_config(targets: list[str], scrape_interval: str, job: str, metrics_path: str) -> str:
    """prometheus.yml for one job scraping `targets` (host:port). JSON is valid YAML."""
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": metrics_path,
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval,
                "static_configs": [{"targets": targets}],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


class Prometheus:
    """One running Prometheus server."""

    def __init__(self, process: ManagedProcess, port: int, base_dir: Path) -> None:
        self.process = process
        self.port = port
        self.base_dir = base_dir
        self.url = f"http://127.0.0.1:{port}"

    def _api(self, path: str, params: dict[str, str] | None = None) -> Any:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query; the result vector as Prometheus returns it (metric labels + value)."""
        data = self._api("/api/v1/query", {"query": promql})
        return list(data["result"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self._api("/api/v1/targets")["activeTargets"])

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until the query returns a non-empty result (a scrape has landed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.5)
        raise PrometheusError(f"{promql!r} still empty after {timeout}s; targets: {self.targets()}")

    def stop(self) -> None:
        self.process.stop(15)


class PrometheusFactory:
    """Starts Prometheus servers on demand and stops them all at the end."""

    def __init__(self, base_dir: Path | None = None) -> None:
        self.binary = prometheus_binary()
        self._own_base = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="presto-on-aws-prometheus-"))
        self.servers: list[Prometheus] = []

    def start(
        self,
        targets: list[str],
        scrape_interval: str = "1s",
        *,
        job: str = "presto-on-aws",
        metrics_path: str = "/metrics",
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> Prometheus:
        port = free_port()
        home = self.base_dir / f"prometheus-{port}"
        (home / "data").mkdir(parents=True)
        config = home / "prometheus.yml"
        config.write_text(scrape_config(targets, scrape_interval, job, metrics_path))
        process = ManagedProcess(
            f"prometheus {port}",
            [
                str(self.binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            log_path=home / "prometheus.log",
            cwd=home,
        )
        server = Prometheus(process, port, home)
        self.servers.append(server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.running():
                raise PrometheusError(f"prometheus exited with {process.returncode()}:\n{process.tail(30)}")
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        process.stop(5)
        raise PrometheusError(f"prometheus not ready after {timeout}s:\n{process.tail(30)}")

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()
        if self._own_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)
