"""The Trino versions the integration suite proves the flows on, one factory each."""

from __future__ import annotations

from pathlib import Path

from tools.harness.trino import TrinoFactory

# The versions the flows are proven on: the default, and the newest (assembled from Maven jars).
SUITE_VERSIONS = (476, 483)


class TrinoVersions:
    """One TrinoFactory per Trino version, made on first use and stopped at the end."""

    def __init__(self, base_dir: Path, first: TrinoFactory) -> None:
        self.base_dir = base_dir
        self.factories = {first.version: first}

    def factory(self, version: int) -> TrinoFactory:
        if version not in self.factories:
            self.factories[version] = TrinoFactory(self.base_dir / f"trino{version}", version=version)
        return self.factories[version]

    def stop_all(self) -> None:
        for factory in self.factories.values():
            factory.stop_all()
