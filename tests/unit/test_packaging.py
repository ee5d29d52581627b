"""What goes into each function's zip: its folder and exactly the shared modules it imports, at their
repository paths (one import root), and the root shim that keeps the handler setting `handler.handler`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.lambdas.packaging import HANDLER_FILE, PackagingError, archive_files, handler_shim


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(tmp_path, "node_agent/__init__.py")
    write(tmp_path, "node_agent/contract.py", "import json\n")
    write(tmp_path, "node_agent/trino/admin.py", "from node_agent.contract import MANAGEMENT_USER\n")
    write(tmp_path, "functions/__init__.py")
    write(tmp_path, "functions/shared/__init__.py")
    write(tmp_path, "functions/shared/lambda_support.py", "from node_agent.trino.admin import TrinoAdmin\n")
    write(tmp_path, "node_agent/render.py", "import bcrypt\n")
    write(
        tmp_path,
        "functions/failover/handler.py",
        "from functions.failover.rules import x\nimport functions.shared.lambda_support\n",
    )
    write(tmp_path, "functions/failover/__init__.py")
    write(tmp_path, "functions/failover/rules.py", "x = 1\n")
    write(tmp_path, "functions/failover/__pycache__/handler.cpython-311.pyc", "compiled")
    return tmp_path


def test_archive_holds_the_function_folder_at_its_repository_path(repo: Path) -> None:
    files = archive_files("failover", repo)
    assert files["functions/failover/handler.py"] == repo / "functions/failover/handler.py"
    assert "functions/failover/rules.py" in files


def test_the_root_shim_is_the_functions_own_handler() -> None:
    assert "from functions.failover.handler import handler" in handler_shim("failover")


def test_shared_modules_are_followed_through_their_own_imports(repo: Path) -> None:
    shared = {name for name in archive_files("failover", repo) if not name.startswith("functions/failover/")}
    assert shared == {
        "functions/__init__.py",
        "functions/shared/__init__.py",
        "functions/shared/lambda_support.py",
        "node_agent/__init__.py",
        "node_agent/trino/admin.py",
        "node_agent/contract.py",
    }


def test_compiled_files_stay_out_of_the_zip(repo: Path) -> None:
    assert not any("__pycache__" in name for name in archive_files("failover", repo))


def test_function_without_a_handler_is_refused_by_name(repo: Path) -> None:
    write(repo, "functions/empty/notes.txt", "")
    with pytest.raises(PackagingError, match=r"functions/empty/handler\.py is missing"):
        archive_files("empty", repo)


@pytest.mark.parametrize("function", ["failover", "worker_health"])
def test_the_real_functions_ship_the_trino_client_and_contract(function: str) -> None:
    files = archive_files(function)
    assert {
        f"functions/{function}/handler.py",
        "node_agent/__init__.py",
        "node_agent/contract.py",
        "node_agent/trino/admin.py",
    } <= set(files)
    assert "node_agent/render.py" not in files


@pytest.mark.parametrize("function", ["failover", "worker_health"])
def test_the_packaged_handler_imports_from_the_zip_alone(function: str, tmp_path: Path) -> None:
    """Like the Lambda runtime: only the zip's files plus the standard library and boto3."""
    for name, source in archive_files(function).items():
        write(tmp_path, name, source.read_text())
    write(tmp_path, HANDLER_FILE, handler_shim(function))
    check = "import sys; sys.path.insert(0, sys.argv[1]); import handler; assert callable(handler.handler)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", check, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
