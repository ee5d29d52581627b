"""The lifecycle agent's drain record: what survives an agent restart, and a drained node's reboot.

One JSON file in the agent's state directory, replaced atomically. Besides the agent, trino.service
reads it (`node-agent lifecycle --may-start`, an ExecCondition): a node whose drain has begun must
not start Trino again, or the restarted server would take new work on an instance about to go.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from node_agent.durable import replace_file

STATE_FILE = "lifecycle.json"


@dataclass
class DrainRecord:
    instance_id: str
    reason: str
    started_at: float  # wall clock (epoch seconds): survives restarts, unlike monotonic time
    shutdown_requested: bool = False
    last_heartbeat_at: float | None = None
    heartbeats: int = 0
    completed: bool = False
    completion_reason: str | None = None
    # The target lifecycle state IMDS last showed: an IMDS outage mid-drain (also across an agent
    # restart) must not stop the heartbeats that keep the group from terminating the instance.
    target_state: str | None = None
    shutdown_requests: int = 0  # PUTs sent; more than one means Trino came back ACTIVE mid-drain


class StateStore:
    """One JSON file, replaced atomically, so a crash never leaves half a record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None  # why the last load found nothing usable

    def load(self, instance_id: str) -> DrainRecord | None:
        """The drain in progress, if any. An unreadable file is moved aside, not fatal: an agent
        that crash-looped on it would never drain, while starting afresh only re-reads Trino's state.
        """
        self.problem = None
        try:
            raw = json.loads(self.path.read_text())
            record = DrainRecord(**raw)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            aside = self.path.with_suffix(".unreadable")
            os.replace(self.path, aside)
            self.problem = f"state file was unreadable ({exc}); moved to {aside.name}, starting afresh"
            return None
        return record if record.instance_id == instance_id else None  # a file baked into an image

    def save(self, record: DrainRecord) -> None:
        replace_file(self.path, json.dumps(asdict(record), sort_keys=True).encode(), 0o644)


def drain_begun(path: Path, instance_id: str | None) -> str | None:
    """Why this node must not start Trino (its drain has begun), or None when it may.

    Read only, unlike StateStore.load: trino.service asks this before every start, including each
    restart after a crash. A record of another instance (a file baked into an image) does not
    count; with `instance_id` None (IMDS did not answer) any record does, because a Trino started
    on a node the group is terminating takes queries only to lose them. An unreadable file does not
    count either: the agent sets it aside and reads Trino's own state instead.
    """
    try:
        record = DrainRecord(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None
    if instance_id is not None and record.instance_id != instance_id:
        return None
    return f"drain of {record.instance_id} began ({record.reason}); trino stays down until the instance goes"
