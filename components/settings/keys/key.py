"""One stack configuration key, and the limits the table's texts quote (kept here so the table's
sections and the parser read one definition)."""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "presto-on-aws"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# The longest an Auto Scaling lifecycle hook can hold an instance (AWS limit), in minutes.
MAX_DRAIN_MINUTES = 48 * 60

OLDEST_TRINO = 330  # PrestoSQL 330, what the original template ran
NEWEST_TRINO = 483
DEFAULT_TRINO = 476  # the newest release on Maven Central, so the newest the integration tests boot


@dataclass(frozen=True)
class ConfigKey:
    name: str  # without the "presto-on-aws:" namespace
    type: str
    default: str  # as the README shows it; "required" when there is none
    allowed: str
    example: str
    doc: str
