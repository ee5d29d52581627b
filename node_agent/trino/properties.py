"""Trino's .properties files as the render writes them: every name checked, every value escaped,
and each catalog's file with its secret references resolved and what this version rejects refused.

RenderError is defined here, the lowest layer that raises it; render.py raises it too and callers
know it as render.RenderError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from node_agent.contract import SECRET_REFERENCE_PREFIX
from node_agent.trino import versions

_CATALOG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]*]+$")


class RenderError(ValueError):
    """The settings cannot be turned into a configuration this Trino version accepts.

    `problems` lists every reason found in one render (the message joins them), so `make plan`,
    which renders both roles before anything is deployed, can report them all at once.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


def properties_text(values: dict[str, str], where: str) -> str:
    """One .properties file's text, in the order given; `where` names the file in each problem."""
    problems = [
        f"{where}: property name {key!r} is not valid (letters, digits, _ . - only)"
        for key in values
        if not _PROPERTY_NAME.match(key)
    ] + [
        f"{where}: value of {key!r} contains a line break, which is not allowed"
        for key, value in values.items()
        if any(c in value for c in "\r\n")
    ]
    if problems:
        raise RenderError("; ".join(problems), problems)
    lines = []
    for key, value in values.items():
        escaped = value.replace("\\", "\\\\")
        if escaped[:1].isspace():
            escaped = "\\" + escaped
        lines.append(f"{key}={escaped}")
    return "\n".join(lines) + "\n"


def resolved_catalog(name: str, properties: dict[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """The catalog with each secret reference replaced by its value; a reference never reaches Trino."""
    resolved = dict(properties)
    for key, value in properties.items():
        if str(value).startswith(SECRET_REFERENCE_PREFIX):
            if value not in values:
                raise RenderError(f"catalogs.{name}.{key}: the secret it refers to was not resolved")
            resolved[key] = values[value]
    return resolved


def catalog_text(name: str, properties: dict[str, str], version: int) -> str:
    where = f"catalog {name!r}"
    if not _CATALOG_NAME.match(name):
        raise RenderError(
            f"{where}: catalog names are lowercase letters, digits and _, starting with a letter"
        )
    if "connector.name" not in properties:
        raise RenderError(f"{where}: connector.name is required")
    rejected = [
        f"{where}: {versions.rejection(k, version)}" for k in properties if versions.rejection(k, version)
    ]
    if rejected:
        raise RenderError("; ".join(rejected), rejected)
    ordered = {"connector.name": properties["connector.name"]}
    ordered.update({k: str(properties[k]) for k in sorted(properties) if k != "connector.name"})
    return properties_text(ordered, where)
