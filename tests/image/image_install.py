"""Running image/install.sh the way the tests do: into a scratch root instead of "/"."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from components.base import REPO_ROOT

REPO = REPO_ROOT
IMAGE = REPO / "image"
INSTALL = IMAGE / "install.sh"
TRINO_VERSION = 476
# The harness runs Trino 476 on this JDK; the install records and checks it like Corretto on a node.
JAVA_HOME = Path(os.environ.get("TRINO_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"))


@dataclass(frozen=True)
class InstalledImage:
    root: Path
    output: str  # what install.sh printed
    wheelhouse: Path
    tarball: Path

    def path(self, node_path: str) -> Path:
        """Where a path of the node (e.g. /opt/trino) is in this tree."""
        return self.root / node_path.lstrip("/")


def run_install(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(INSTALL), *map(str, args)], capture_output=True, text=True, timeout=600, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"install.sh failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def install_args(root: Path, wheelhouse: Path, tarball: Path) -> list[str | Path]:
    return [
        "--root",
        root,
        "--trino-version",
        str(TRINO_VERSION),
        "--trino-tarball",
        tarball,
        "--wheelhouse",
        wheelhouse,
        "--java-home",
        JAVA_HOME,
        "--python",
        sys.executable,
        "--agent-version",
        "test-revision",
    ]
