"""One node's settings for the agent's tests, in place of a copy in every test file.

The values are what the program publishes for a small cluster (Trino 476, the coordinator ENI's
address, the shared secret's ARN); a test names only the fields its behaviour depends on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from node_agent.contract import NodeSettings

SHARED_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared"


def sample_node_settings(**changes: Any) -> NodeSettings:
    base = NodeSettings(
        cluster="analytics",
        environment="prod",
        region="eu-west-1",
        trino_version=476,
        coordinator_address="10.0.0.10",
        shared_secret_arn=SHARED_SECRET_ARN,
    )
    return replace(base, **changes)
