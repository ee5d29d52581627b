"""The tree stays readable: no module a reader cannot take in at one sitting, and no import
circle (a circle means two modules are one job split in two, or a shared part left inside one).

Module-level imports only: an import inside a function runs when it is called, after both
modules have loaded, so it makes no circle at load time (the metrics and query-log commands import
node_config that way, which keeps boto3 out of a local run).
"""

from __future__ import annotations

import ast
from pathlib import Path

from components.base import REPO_ROOT

PACKAGES = ("components", "node_agent", "functions", "tools", "bench")
MOST_LINES = 450  # past this a module holds a second job: give that job its own module


def source_files() -> list[Path]:
    roots = [REPO_ROOT / name for name in PACKAGES]
    files = [p for root in roots for p in root.rglob("*.py") if "build" not in p.parts]
    return sorted([*files, REPO_ROOT / "__main__.py", REPO_ROOT / "automation.py"])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports when it loads (a `from package import name` counts the
    submodule when `name` is one)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            if base in known:
                found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
    return found


def import_graph() -> dict[str, set[str]]:
    files = source_files()
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) - {module_name(p)} for p in files}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_is_longer_than_a_reader_takes_in() -> None:
    long = {
        str(p.relative_to(REPO_ROOT)): n
        for p in source_files()
        if (n := len(p.read_text().splitlines())) > MOST_LINES
    }
    assert long == {}


def test_no_two_modules_import_each_other_even_through_others() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_the_import_graph_sees_a_from_package_import_of_a_submodule() -> None:
    assert "components.settings.keys.cluster" in import_graph()["components.settings.keys"]
