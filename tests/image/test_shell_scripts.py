"""Every shell script in the repository is shellcheck clean."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.image.image_install import REPO

SKIP_DIRS = {".git", ".venv", ".cache", "node_modules", "build"}


def shell_scripts() -> list[str]:
    found = []
    for path in sorted(REPO.rglob("*")):
        if SKIP_DIRS & set(path.relative_to(REPO).parts) or not path.is_file():
            continue
        if path.suffix == ".sh":
            found.append(str(path.relative_to(REPO)))
            continue
        if path.suffix == "" and path.stat().st_size < 1_000_000:
            with open(path, "rb") as handle:
                first = handle.readline(200)
            if first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh")):
                found.append(str(path.relative_to(REPO)))
    return found


SCRIPTS = shell_scripts()


def test_the_image_install_script_is_among_the_scripts_checked() -> None:
    assert "image/install.sh" in SCRIPTS
    assert ".ci/run" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_is_shellcheck_clean(script: str) -> None:
    assert shutil.which("shellcheck"), "shellcheck is missing (Debian package; .ci/run installs it)"
    result = subprocess.run(
        ["shellcheck", "--external-sources", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
