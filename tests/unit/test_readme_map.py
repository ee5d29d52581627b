"""README's package map names folders that exist, and every package in the tree is on it.

The map is the newcomer's index ("find any flow's code in one step"), so a folder moved, renamed
or added without updating the map fails here. A map line at column 0 starts a top-level folder's
block; every `name/` or `name.py` named in that block lies somewhere under that folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from components.base import REPO_ROOT

FOLDER = re.compile(r"(?<![\w/.])([A-Za-z_][\w-]*)/(?!\w)")
MODULE = re.compile(r"(?<![\w/.])([A-Za-z_]\w*\.py)\b")
SKIPPED = {"__pycache__", "build", "node_modules"}


def map_lines(readme: str) -> list[str]:
    """The first code block of "What it builds, and how the parts meet"."""
    section = readme[readme.index("## What it builds, and how the parts meet\n") :]
    start = section.index("```\n") + len("```\n")
    return section[start : section.index("```", start)].splitlines()


def named(lines: list[str]) -> dict[str, set[str]]:
    """Top-level folder ('' for the root) -> the folder and module names its block mentions."""
    blocks: dict[str, set[str]] = {}
    top = ""
    for line in lines:
        if line and not line[0].isspace():
            first = FOLDER.match(line)
            top = first.group(1) if first else ""
            blocks.setdefault(top, set())
            line = line[first.end() :] if first else line
        blocks.setdefault(top, set()).update(FOLDER.findall(line), MODULE.findall(line))
    return blocks


def under(root: Path, name: str) -> list[Path]:
    return [p for p in root.rglob(name) if not SKIPPED & set(p.relative_to(REPO_ROOT).parts)]


def packages() -> list[Path]:
    """Every top-level folder, and every Python package below one, relative to the repository."""
    tops = [p for p in REPO_ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")]
    found = [p.relative_to(REPO_ROOT) for p in tops]
    for top in tops:
        found += [
            init.parent.relative_to(REPO_ROOT)
            for init in top.rglob("__init__.py")
            if init.parent != top and not SKIPPED & set(init.parts)
        ]
    return sorted(found)


BLOCKS = named(map_lines((REPO_ROOT / "README.md").read_text()))


def test_every_top_level_folder_on_the_map_exists() -> None:
    missing = [top for top in BLOCKS if top and not (REPO_ROOT / top).is_dir()]
    assert not missing, missing


def test_every_folder_and_module_the_map_names_lies_under_its_top_level_folder() -> None:
    missing = [
        f"{top or '.'}: {name}"
        for top, names in BLOCKS.items()
        for name in sorted(names)
        if not (under(REPO_ROOT / top, name) if top else (REPO_ROOT / name.rstrip("/")).exists())
    ]
    assert not missing, missing


def test_every_top_level_folder_and_package_in_the_tree_is_on_the_map() -> None:
    absent = [
        str(path)
        for path in packages()
        if path.parts[0] not in BLOCKS or (len(path.parts) > 1 and path.name not in BLOCKS[path.parts[0]])
    ]
    assert not absent, absent


def test_a_folder_missing_from_the_tree_is_caught() -> None:
    blocks = named(["tools/        plan/ and nowhere/, docs.py"])
    assert blocks == {"tools": {"plan", "nowhere", "docs.py"}}
    assert not under(REPO_ROOT / "tools", "nowhere")
