"""The connector names a catalog's `connector.name` may say, per Trino release.

`connector.name: postgres` (the connector is `postgresql`) used to pass the plan and the
rehearsal, and every node would have failed to boot. connectors.json holds what each release's
plugins register, read from the server tarball itself (`python -m tools.connectors`, which loads
every plugin as the server does; tests/integration/test_connector_table.py checks it against the
tarball CI downloads). For a release the table has, an unknown name is refused; for another
release (the table holds the tarballs Maven Central serves here) only a near miss of a name some
release ships is refused, since the release may have connectors the table does not know.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("connectors.json")


@cache
def connector_table() -> dict[int, frozenset[str]]:
    return {int(v): frozenset(names) for v, names in json.loads(TABLE.read_text()).items()}


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
