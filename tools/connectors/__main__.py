"""Regenerate components/settings/connectors.json.gz: each Trino release's connectors and the
catalog properties each one's plugin can bind.

For each version, the server tarball from Maven Central (through the harness cache) is unpacked
(lib/ and plugin/ only) and ConnectorTable.java loads every plugin as the server does, asks it for
its connector factories, and reads its classes' @Config names. Run: `python -m tools.connectors
470 476` (the JDK it runs on needs java.lang.classfile: 24 or newer, as Trino 476 itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from components.settings.connectors import TABLE, read_table, write_table
from tools.harness import downloads
from tools.harness.trino_node import java_home

PROGRAM = Path(__file__).with_name("ConnectorTable.java")


def registered(server_dir: Path) -> dict[str, list[str]]:
    """Connector name -> properties, for the plugins of an unpacked server; fails if one would
    not load."""
    java = java_home() / "bin" / "java"
    done = subprocess.run(
        [str(java), str(PROGRAM), str(server_dir)], capture_output=True, text=True, check=True
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if answer["failed"]:
        raise RuntimeError(f"plugins that did not load in {server_dir}: {answer['failed']}")
    return {name: sorted(properties) for name, properties in answer["connectors"].items()}


def connectors_of(version: int) -> dict[str, list[str]]:
    tarball = downloads.fetch(downloads.trino_server(version))
    with tempfile.TemporaryDirectory(prefix=f"connectors-{version}-") as tmp:
        with tarfile.open(tarball, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.name.split("/")[1:2] in (["lib"], ["plugin"])]
            archive.extractall(tmp, members=members, filter="fully_trusted")
        (server,) = Path(tmp).iterdir()
        return registered(server)


def main(argv: list[str]) -> int:
    table = read_table() if TABLE.is_file() else {}
    for version in argv or sorted(table):
        table[str(version)] = connectors_of(int(version))
        count = sum(len(p) for p in table[str(version)].values())
        print(f"Trino {version}: {len(table[str(version)])} connectors, {count} properties")
    write_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
