"""docs/configuration.md documents every key the parser accepts, and nothing else."""

from __future__ import annotations

import re

from components.base import REPO_ROOT
from components.settings.keys import KNOWN


def section(title: str) -> str:
    text = (REPO_ROOT / "docs" / "configuration.md").read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_config_key_has_a_row_in_the_configuration_reference() -> None:
    rows = set(re.findall(r"^\| `([A-Za-z:]+)` \|", section("Keys"), re.MULTILINE))
    assert rows == set(KNOWN) | {"aws:region"}


def test_each_row_shows_type_default_allowed_and_example() -> None:
    for line in section("Keys").splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert len(cells) == 6 and all(cells), line


def test_the_readme_links_the_configuration_reference_from_its_stack_configuration_section() -> None:
    """The parser's error message sends users to README's "Stack configuration"."""
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index("## Stack configuration\n")
    end = readme.find("\n## ", start + 1)
    assert "(docs/configuration.md)" in readme[start : end if end != -1 else None]
