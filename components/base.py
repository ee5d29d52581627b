"""Small helpers every component uses, so options and tags are written the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pulumi

TYPE_PREFIX = "presto-on-aws:index:"
# The checkout: Pulumi.yaml, the stack files and the function folders are read from here. Named by
# what it holds, not by counting parents, and checked (tests/unit/test_program_entry.py).
REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "Pulumi.yaml").is_file())


def child(
    parent: pulumi.Resource,
    *,
    depends_on: Sequence[pulumi.Resource] | None = None,
    ignore_changes: Sequence[str] | None = None,
    delete_before_replace: bool | None = None,
) -> pulumi.ResourceOptions:
    """Options of a component's child: parented (so the tree and the URNs nest) plus extras."""
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=list(depends_on) if depends_on else None,
        ignore_changes=list(ignore_changes) if ignore_changes else None,
        delete_before_replace=delete_before_replace,
    )


def tagged(tags: Mapping[str, str], name: str, **extra: str) -> dict[str, str]:
    """The cluster tags plus a Name (what the console lists) and any role-specific tags."""
    return {**tags, "Name": name, **extra}
