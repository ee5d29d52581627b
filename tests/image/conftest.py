"""The image's install script, run once per session into a scratch root, as Packer runs it.

Packer runs image/install.sh on the build instance with root "/"; here the same script installs
into an empty directory, with the real Trino 476 server tarball and the node agent's wheelhouse
built by `make -C image wheelhouse`. Every test in this folder inspects that one tree, so the
821 MB tarball is verified and extracted once per session (about 20 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.image_install import IMAGE, TRINO_VERSION, InstalledImage, install_args, run_install
from tools.harness.downloads import fetch, trino_server


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The node agent and its dependencies as wheels, built by the same make target as the AMI's."""
    build = tmp_path_factory.mktemp("image-build")
    result = subprocess.run(
        ["make", "-s", "-C", str(IMAGE), "wheelhouse", f"BUILD={build}", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"make wheelhouse failed:\n{result.stdout}\n{result.stderr}"
    return build / "wheelhouse"


@pytest.fixture(scope="session")
def trino_tarball() -> Path:
    return fetch(trino_server(TRINO_VERSION))


@pytest.fixture(scope="session")
def installed(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, trino_tarball: Path
) -> Iterator[InstalledImage]:
    if os.geteuid() != 0:
        pytest.skip(
            "install.sh creates the trino user and sets ownership: run the image tests as root (CI does)"
        )
    root = tmp_path_factory.mktemp("node-root")
    result = run_install(*install_args(root, wheelhouse, trino_tarball))
    yield InstalledImage(root, result.stdout + result.stderr, wheelhouse, trino_tarball)
    shutil.rmtree(root, ignore_errors=True)  # about 1 GB; pytest would keep three sessions of it
