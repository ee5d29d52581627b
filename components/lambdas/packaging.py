"""What goes into a function's zip: its folder, the shared modules it imports, and a root shim.

The zip has one import root, the same as the repository's: `functions/<function>/...` and the
shared modules (`functions/shared`, the Trino admin client and the contract in `node_agent`) sit at
their repository paths, so the code imports `functions.failover.rules` on Lambda exactly as in the
tests. Which shared modules is read from the code itself (import statements, followed through the
shared packages), so a function that starts using another one ships it without anyone editing a
list here. A generated `handler.py` at the zip's root re-exports the function's handler, so the
Lambda handler setting stays `handler.handler` (contract.FUNCTION_HANDLER).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pulumi

from components.base import REPO_ROOT

# Packages whose modules a zip carries at the same path as in the repository.
SHARED_PACKAGES = ("node_agent", "functions")
HANDLER_FILE = "handler.py"  # the function's own, and the root shim's: contract.FUNCTION_HANDLER
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


class PackagingError(RuntimeError):
    """A function folder that cannot become a working Lambda zip."""


def _shared_imports(source: Path) -> set[str]:
    """Shared module names (e.g. "node_agent.trino.admin") that a Python file imports."""
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


def _module_file(module: str, root: Path) -> str | None:
    """The repository path of a dotted module: a module file, or a package's __init__.py."""
    for relative in (module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"):
        if (root / relative).is_file():
            return relative
    return None


def archive_files(function: str, root: Path = REPO_ROOT) -> dict[str, Path]:
    """Zip path -> file on disk for functions/<function> and the shared modules it imports.

    Every path is the file's repository path; the root shim (handler_shim) is not among them.
    """
    folder = root / "functions" / function
    if not (folder / HANDLER_FILE).is_file():
        raise PackagingError(
            f"functions/{function}/{HANDLER_FILE} is missing: the Lambda handler lives there"
        )
    files = {
        str(path.relative_to(root)): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix != ".pyc"
    }
    pending = [path for path in files.values() if path.suffix == ".py"]
    while pending:
        for module in _shared_imports(pending.pop()):
            relative = _module_file(module, root)
            if relative is not None and relative not in files:
                files[relative] = root / relative
                pending.append(root / relative)
    for relative in list(files):
        # Every package on the way to a module needs its __init__.py to be importable.
        parts = relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            init = "/".join(parts[:depth]) + "/__init__.py"
            if (root / init).is_file():
                files.setdefault(init, root / init)
    return files


def handler_shim(function: str) -> str:
    """The zip root's handler.py: Lambda's `handler.handler` is the function's own handler."""
    return f'from functions.{function}.handler import handler\n\n__all__ = ["handler"]\n'


def function_archive(function: str, root: Path = REPO_ROOT) -> pulumi.AssetArchive:
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        name: pulumi.FileAsset(str(path)) for name, path in archive_files(function, root).items()
    }
    assets[HANDLER_FILE] = pulumi.StringAsset(handler_shim(function))
    return pulumi.AssetArchive(assets)
