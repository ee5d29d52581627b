"""What a catalog may say, per Trino release: the `connector.name`s its plugins register and the
properties each connector's plugin can bind.

`connector.name: postgres` (the connector is `postgresql`) used to pass the plan and the
rehearsal, and every node would have failed to boot; so did a property typo such as
`memory.max-data-per-nodee` (Trino: "Configuration property ... was not used"). connectors.json.gz
holds, for each release whose server tarball Maven Central serves here, what its plugins register
and the @Config names their classes carry (`python -m tools.connectors`, which loads every plugin
as the server does; tests/integration/test_connector_table.py checks it against the tarball CI
downloads, and a real server against the plan on a typo).

Names: for a release the table has, an unknown name is refused; for another release only a near
miss of a name some release ships is refused, since the release may have connectors the table
does not know. Properties: checked only for a release and connector the table has. The list is a
plugin's, a superset of what one connector binds (a plugin carries shared modules: HTTP client,
logging, security), so the check refuses a property no class of the plugin can bind and passes
one another connector of the plugin would take; a config bound under a prefix is listed without
it, so a key ending in `.<known property>` passes.
"""

from __future__ import annotations

import difflib
import gzip
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("connectors.json.gz")


def write_table(table: Mapping[str, Mapping[str, Sequence[str]]], path: Path = TABLE) -> None:
    """The same bytes for the same table (no time stamp in the gzip header): a regeneration that
    finds nothing new changes no file."""
    text = json.dumps(
        {v: {name: sorted(p) for name, p in table[v].items()} for v in table}, indent=0, sort_keys=True
    )
    path.write_bytes(gzip.compress(text.encode() + b"\n", compresslevel=9, mtime=0))


def read_table(path: Path = TABLE) -> dict[str, dict[str, list[str]]]:
    """The table as write_table() stored it: release text -> connector name -> properties."""
    table: dict[str, dict[str, list[str]]] = json.loads(gzip.decompress(path.read_bytes()))
    return table


@cache
def property_table() -> dict[int, dict[str, frozenset[str]]]:
    """Release -> connector name -> properties its plugin can bind."""
    raw = read_table()
    return {int(v): {name: frozenset(p) for name, p in connectors.items()} for v, connectors in raw.items()}


@cache
def connector_table() -> dict[int, frozenset[str]]:
    return {v: frozenset(connectors) for v, connectors in property_table().items()}


def connector_problem(name: str, version: int) -> str | None:
    """Why no node of this release would load a catalog with this connector.name, or None."""
    table = connector_table()
    known = table.get(version)
    every = sorted(set().union(*table.values()))
    if known is not None:
        if name in known:
            return None
        guess = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f"; did you mean {guess[0]}?" if guess else ""
        elsewhere = sorted(v for v, names in table.items() if name in names)
        gone = f"; Trino {', '.join(map(str, elsewhere))} ships it" if elsewhere else ""
        return (
            f"{name!r} is not a connector of Trino {version}{hint}{gone} "
            f"(allowed: {', '.join(sorted(known))})"
        )
    if name in every:
        return None
    guess = difflib.get_close_matches(name, every, n=1, cutoff=0.75)
    if guess:
        return f"{name!r} is not a Trino connector; did you mean {guess[0]}?"
    return None


def property_problem(connector: str, key: str, version: int) -> str | None:
    """Why every node of this release would refuse to start with this catalog property, or None
    (also when the table cannot judge: another release, or an unknown connector)."""
    known = property_table().get(version, {}).get(connector)
    if known is None or key == "connector.name" or key in known:
        return None
    if any(key.endswith("." + name) for name in known):
        return None  # a config the plugin binds under a prefix (e.g. an HTTP client's)
    guess = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    return (
        f"{key!r} is not a property the {connector} connector of Trino {version} knows{hint} "
        f"(Trino refuses to start on it: \"Configuration property '{key}' was not used\"; the "
        "plugin's properties are read from its classes by `python -m tools.connectors`)"
    )
