"""A single-node OpenSearch on loopback, from its integration-test distribution on Maven Central.

It runs exactly like the harness's Elasticsearch (same unprivileged user, instance layout, restart
semantics); only the binary, the environment prefix and the settings differ. The integration-test
zip is OpenSearch core without plugins: no security plugin (so no auth to turn off) and no Index
State Management (the query-log tests see the agent's "no lifecycle API" path against it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tools.harness import downloads
from tools.harness.elasticsearch import Elasticsearch, ElasticsearchStartError

JVM_DIR = Path("/usr/lib/jvm")


def java_major(home: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(home / "bin" / "java"), "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stderr
    except OSError:
        return None
    for line in out.splitlines():
        if "java.specification.version" in line:
            return int(line.split("=")[1].strip())
    return None


def opensearch_java_home(version: str) -> Path:
    """A JDK the version runs on: $OPENSEARCH_JAVA_HOME, else the first fitting one in /usr/lib/jvm.

    OpenSearch 2.x starts only with the Java Security Manager, which JDK 24 removed (JEP 486), so
    it needs Java 17 to 23 (the Temurin 25 that runs Trino and Elasticsearch here will not do);
    3.x dropped the Security Manager and needs Java 21 or newer.
    """
    low, high = (17, 23) if version.startswith("2.") else (21, 99)
    configured = os.environ.get("OPENSEARCH_JAVA_HOME")
    candidates = [Path(configured)] if configured else sorted(JVM_DIR.glob("*"), reverse=True)
    for home in candidates:
        major = java_major(home) if (home / "bin" / "java").is_file() else None
        if major is not None and low <= major <= high:
            return home
    raise ElasticsearchStartError(
        f"OpenSearch {version} needs Java {low} to {high}: none found "
        f"({'OPENSEARCH_JAVA_HOME=' + configured if configured else JVM_DIR}); install "
        "openjdk-17-jre-headless (.ci/run does) or set OPENSEARCH_JAVA_HOME"
    )


class OpenSearch(Elasticsearch):
    product = "OpenSearch"
    binary = "opensearch"
    env_prefix = "OPENSEARCH"
    default_version = downloads.OPENSEARCH_VERSION

    def install(self, version: str) -> Path:
        return downloads.opensearch_install(version)

    def find_java(self, version: str) -> Path:
        return opensearch_java_home(version)

    def product_settings(self) -> dict[str, object]:
        return {}

    def _prepare(self) -> None:
        super()._prepare()
        # OpenSearch's jvm.options name gc logs, error files and heap dumps relative to the
        # install (its launcher runs from there), which the server's user may not write; point
        # them into this instance's own directories.
        options = self.base_dir / "config" / "jvm.options"
        text = options.read_text()
        text = text.replace("logs/", f"{self.base_dir / 'logs'}/")
        text = text.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={self.base_dir / 'data'}")
        options.write_text(text)

    def client(self):  # -> opensearchpy.OpenSearch (imported late: only tests need the client)
        from opensearchpy import OpenSearch as Client

        return Client(hosts=[self.url], timeout=30)
