"""What goes into a function's zip: its folder, plus the node_agent modules it imports.

The functions share the Trino admin client and the contract with the agent, so their zips carry
those modules. Which ones is read from the code itself (import statements, followed through
node_agent), so a function that starts using another shared module ships it without anyone
editing a list here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pulumi

from components.settings import REPO_ROOT

SHARED_PACKAGE = "node_agent"
HANDLER_FILE = "handler.py"  # contract.FUNCTION_HANDLER is "handler.handler"
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


class PackagingError(RuntimeError):
    """A function folder that cannot become a working Lambda zip."""


def _shared_imports(source: Path) -> set[str]:
    """node_agent module names (e.g. "node_agent.trino") that a Python file imports."""
    tree = ast.parse(source.read_text(), filename=str(source))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == SHARED_PACKAGE or n.startswith(SHARED_PACKAGE + "."))
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
    shared: dict[str, Path] = {f"{SHARED_PACKAGE}/__init__.py": root / SHARED_PACKAGE / "__init__.py"}
    while pending:
        for module in _shared_imports(pending.pop()):
            relative = module.replace(".", "/") + ".py"
            path = root / relative
            if path.is_file() and relative not in shared:
                shared[relative] = path
                pending.append(path)
    return {**files, **shared}


def function_archive(function: str, root: Path = REPO_ROOT) -> pulumi.AssetArchive:
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(str(path)) for name, path in archive_files(function, root).items()}
    )
