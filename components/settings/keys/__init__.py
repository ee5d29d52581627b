"""Every stack configuration key the program reads, with its documentation.

One table serves three readers: the parser (it refuses to read a key missing here, and reports a
key found in a stack file but not here as unknown, with the closest known name), the generated
configuration reference (docs/configuration.md, kept in step by a test), and the typo
suggestions. Keeping them in one place is what stops the docs and the code from drifting. The
table is in two halves, what the cluster is (cluster.py) and how it runs (operations.py), in the
order the reference lists them.
"""

from __future__ import annotations

from components.settings.keys import cluster, operations
from components.settings.keys.key import (
    DEFAULT_TRINO,
    LOG_RETENTION_DAYS,
    MAX_DRAIN_MINUTES,
    NEWEST_TRINO,
    OLDEST_TRINO,
    PROJECT,
    ConfigKey,
)

KEYS: tuple[ConfigKey, ...] = (*cluster.KEYS, *operations.KEYS)

KNOWN = {key.name: key for key in KEYS}

# Namespaces a stack file may use besides the project's own. Others are probably typos of ours.
FOREIGN_NAMESPACES = ("aws", "pulumi")

__all__ = [
    "DEFAULT_TRINO",
    "FOREIGN_NAMESPACES",
    "KEYS",
    "KNOWN",
    "LOG_RETENTION_DAYS",
    "MAX_DRAIN_MINUTES",
    "NEWEST_TRINO",
    "OLDEST_TRINO",
    "PROJECT",
    "ConfigKey",
]
