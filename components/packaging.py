"""What goes into a function's zip: its folder, plus the shared modules it imports.

The functions share their invocation prologue with each other (functions/shared) and the Trino
admin client and the contract with the agent (node_agent), so their zips carry those modules.
Which ones is read from the code itself (import statements, followed through the shared
packages), so a function that starts using another shared module ships it without anyone editing
a list here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pulumi

from components.settings import REPO_ROOT

# Packages whose modules a zip carries at the same path as in the repository.
SHARED_PACKAGES = ("node_agent", "functions.shared")
HANDLER_FILE = "handler.py"  # contract.FUNCTION_HANDLER is "handler.handler"
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


class PackagingError(RuntimeError):
    """A function folder that cannot become a working Lambda zip."""


def _shared_imports(source: Path) -> set[str]:
    """Shared module names (e.g. "node_agent.trino") that a Python file imports."""
    tree = ast.parse(source.read_text(), filename=str(source))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(
            n for n in names for package in SHARED_PACKAGES if n == package or n.startswith(package + ".")
        )
    return found


def archive_files(function: str, root: Path = REPO_ROOT) -> dict[str, Path]:
    """Zip path -> file on disk for functions/<function>, with its shared modules and their imports."""
    folder = root / "functions" / function
    if not (folder / HANDLER_FILE).is_file():
        raise PackagingError(
            f"functions/{function}/{HANDLER_FILE} is missing: the Lambda handler lives there"
        )
    files = {
        str(path.relative_to(folder)): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix != ".pyc"
    }
    pending = [path for path in files.values() if path.suffix == ".py"]
    shared: dict[str, Path] = {}
    while pending:
        for module in _shared_imports(pending.pop()):
            relative = module.replace(".", "/") + ".py"
            path = root / relative
            if path.is_file() and relative not in shared:
                shared[relative] = path
                pending.append(path)
    for relative in list(shared):
        # Every package on the way to a shared module needs its __init__.py to be importable.
        parts = relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            init = "/".join(parts[:depth]) + "/__init__.py"
            if (root / init).is_file():
                shared.setdefault(init, root / init)
    return {**files, **shared}


def function_archive(function: str, root: Path = REPO_ROOT) -> pulumi.AssetArchive:
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(str(path)) for name, path in archive_files(function, root).items()}
    )
