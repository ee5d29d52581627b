"""`make test`'s runner (tools/run_tests.py): both parts run, each prints whole; either failing fails it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.base import REPO_ROOT

REPO = REPO_ROOT
PYPROJECT = """\
[tool.pytest.ini_options]
markers = ["integration: the slow part"]
"""


def module(unit: str = "pass", slow: str = "pass") -> str:
    """A test module with one plain test and one integration test, with these bodies."""
    plain = f"def test_unit():\n    {unit}\n"
    integration = f"@pytest.mark.integration\ndef test_slow():\n    {slow}\n"
    return f"import pytest\n\n{plain}\n{integration}"


def run(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """tools/run_tests.py on a suite of its own (its pyproject.toml makes tmp_path pytest's rootdir)."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "test_suite.py").write_text(body)
    return subprocess.run(
        [sys.executable, str(REPO / "tools/run_tests.py"), str(tmp_path), "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def sections(stdout: str) -> dict[str, str]:
    """Each part's printed log by part name, and the summary."""
    return {s.split("\n")[0].split(":")[0]: s for s in stdout.split("\n### ")[1:]}


@pytest.mark.parametrize(
    ("failing", "passing", "test"),
    [("integration", "not integration", "test_slow"), ("not integration", "integration", "test_unit")],
)
def test_a_failing_test_fails_the_run_and_the_summary_names_its_part(
    tmp_path: Path, failing: str, passing: str, test: str
) -> None:
    broken = {"slow": "assert 0, 'it broke'"} if test == "test_slow" else {"unit": "assert 0, 'it broke'"}
    done = run(tmp_path, module(**broken))
    assert done.returncode == 1, done.stdout
    summary = sections(done.stdout)["summary"]
    assert f"\n{failing}: FAILED (pytest exit status 1)" in summary
    assert f"\n{passing}: passed" in summary
    assert f"FAILED test_suite.py::{test} - AssertionError: it broke" in done.stdout


def test_each_part_runs_only_its_own_tests_and_prints_its_output_in_one_piece(tmp_path: Path) -> None:
    done = run(tmp_path, module())
    assert done.returncode == 0, done.stdout
    printed = sections(done.stdout)
    for part in ("integration", "not integration"):
        assert printed[part].startswith(f"{part}: passed in "), printed[part]
        assert "1 passed, 1 deselected" in printed[part] and "slowest" in printed[part], printed[part]


def test_a_selection_with_tests_in_one_part_only_passes(tmp_path: Path) -> None:
    done = run(tmp_path, "def test_unit():\n    pass\n")
    assert done.returncode == 0, done.stdout
    summary = sections(done.stdout)["summary"]
    assert "\nintegration: no tests selected" in summary and "\nnot integration: passed" in summary
