"""Regenerate components/settings/connectors.json: the connector names each Trino release ships.

For each version, the server tarball from Maven Central (through the harness cache) is unpacked
(lib/ and plugin/ only) and ConnectorNames.java loads every plugin as the server does and asks it
for its connector factories. Run: `python -m tools.connectors 470 476`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from components.settings.connectors import TABLE
from tools.harness import downloads
from tools.harness.trino import java_home

PROGRAM = Path(__file__).with_name("ConnectorNames.java")


def registered(server_dir: Path) -> list[str]:
    """Connector names the plugins of an unpacked server register; fails if a plugin would not load."""
    java = java_home() / "bin" / "java"
    done = subprocess.run(
        [str(java), str(PROGRAM), str(server_dir)], capture_output=True, text=True, check=True
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if answer["failed"]:
        raise RuntimeError(f"plugins that did not load in {server_dir}: {answer['failed']}")
    return list(answer["connectors"])


def connectors_of(version: int) -> list[str]:
    tarball = downloads.fetch(downloads.trino_server(version))
    with tempfile.TemporaryDirectory(prefix=f"connectors-{version}-") as tmp:
        with tarfile.open(tarball, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.name.split("/")[1:2] in (["lib"], ["plugin"])]
            archive.extractall(tmp, members=members, filter="fully_trusted")
        (server,) = Path(tmp).iterdir()
        return registered(server)


def main(argv: list[str]) -> int:
    table = json.loads(TABLE.read_text()) if TABLE.is_file() else {}
    for version in argv or sorted(table):
        table[str(version)] = connectors_of(int(version))
        print(f"Trino {version}: {len(table[str(version)])} connectors")
    TABLE.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
