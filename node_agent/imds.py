"""The instance's own facts and signals, through IMDSv2 only.

Launch templates require tokens (http_tokens=required), so every read first gets a session token
with PUT /latest/api/token. Standard library only, every call with a short timeout: IMDS answers in
milliseconds, and an agent stuck on it would miss a termination notice.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

IMDS_URL = "http://169.254.169.254"
TOKEN_TTL_SECONDS = 21600


class ImdsError(Exception):
    """IMDS did not answer, or answered something we cannot use."""


T = TypeVar("T")


def retried(read: Callable[[], T], attempts: int, sleep: Callable[[float], None] = time.sleep) -> T:
    """`read()` until IMDS answers: `attempts` tries, 0.5, 1, 2, 4 and then 5 s apart (IMDS can lag
    a few seconds behind early boot). The last try's ImdsError is raised."""
    if attempts < 1:
        raise ValueError(f"attempts={attempts} must be at least 1")
    delay = 0.5
    for _ in range(attempts - 1):
        try:
            return read()
        except ImdsError:
            sleep(delay)
            delay = min(delay * 2, 5.0)
    return read()


@dataclass(frozen=True)
class InstanceIdentity:
    instance_id: str
    instance_type: str
    private_ip: str
    availability_zone: str


class Imds:
    """An IMDSv2 client that keeps its token until shortly before it expires."""

    def __init__(self, base_url: str = IMDS_URL, *, timeout: float = 2.0, token_ttl: int = TOKEN_TTL_SECONDS):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token_ttl = token_ttl
        self._token: str | None = None
        self._token_expires = 0.0

    # --- facts ---------------------------------------------------------------------------------
    def identity(self) -> InstanceIdentity:
        return InstanceIdentity(
            instance_id=self._required("instance-id"),
            instance_type=self._required("instance-type"),
            private_ip=self._required("local-ipv4"),
            availability_zone=self._required("placement/availability-zone"),
        )

    def instance_id(self) -> str:
        return self._required("instance-id")

    def holds_address(self, address: str) -> bool:
        """Whether one of this instance's network interfaces carries `address` now.

        How a coordinator knows it holds the cluster's address (the coordinator ENI's fixed
        private IP): IMDS lists every attached interface by MAC with its private IPv4s, and shows
        an attach or a detach within seconds. Cheaper and surer than asking EC2 (no IAM, no API
        throttling) or the OS (which configures a hot-plugged interface only after udev ran).
        """
        listing = self.get("network/interfaces/macs/") or ""
        for mac in (line.strip().rstrip("/") for line in listing.splitlines()):
            if mac and address in (self.get(f"network/interfaces/macs/{mac}/local-ipv4s") or "").split():
                return True
        return False

    # --- signals -------------------------------------------------------------------------------
    def target_lifecycle_state(self) -> str | None:
        """InService, Terminated, Detached, Standby, Warmed:*; None outside an Auto Scaling group."""
        value = self.get("autoscaling/target-lifecycle-state")
        return value.strip() if value else None

    def spot_instance_action(self) -> dict[str, Any] | None:
        """{"action": "terminate"|"stop"|"hibernate", "time": ...} once a spot interruption is due."""
        return self._json_or_none("spot/instance-action")

    def rebalance_recommendation(self) -> dict[str, Any] | None:
        """{"noticeTime": ...} when EC2 says this spot instance is at elevated risk."""
        return self._json_or_none("events/recommendations/rebalance")

    # --- plumbing ------------------------------------------------------------------------------
    def get(self, path: str) -> str | None:
        """GET latest/meta-data/<path>; None when IMDS says 404 (the item does not exist now)."""
        for attempt in (1, 2):
            request = urllib.request.Request(
                f"{self.base_url}/latest/meta-data/{path}",
                headers={"X-aws-ec2-metadata-token": self._session_token()},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read().decode()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code == 401 and attempt == 1:
                    self._token = None  # expired or revoked: get a new one once
                    continue
                raise ImdsError(f"IMDS GET {path}: HTTP {exc.code}") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise ImdsError(f"IMDS GET {path}: {exc}") from exc
        raise ImdsError(f"IMDS GET {path}: token refused twice")

    def _required(self, path: str) -> str:
        value = self.get(path)
        if not value:
            raise ImdsError(f"IMDS has no {path}")
        return value.strip()

    def _json_or_none(self, path: str) -> dict[str, Any] | None:
        raw = self.get(path)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ImdsError(f"IMDS {path} is not JSON: {raw[:200]!r}") from exc
        if not isinstance(value, dict):
            raise ImdsError(f"IMDS {path} is not a JSON object: {raw[:200]!r}")
        return value

    def _session_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        request = urllib.request.Request(
            f"{self.base_url}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(self.token_ttl)},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                token = response.read().decode().strip()
        except urllib.error.HTTPError as exc:
            raise ImdsError(f"IMDS token request: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ImdsError(f"IMDS token request: {exc}") from exc
        if not token:
            raise ImdsError("IMDS token request returned an empty token")
        self._token = token
        self._token_expires = time.monotonic() + self.token_ttl * 0.9
        return token


def memory_bytes(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemTotal from /proc/meminfo, in bytes."""
    try:
        text = meminfo.read_text()
    except OSError as exc:
        raise ImdsError(f"cannot read {meminfo}: {exc}") from exc
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                unit = parts[2].lower() if len(parts) > 2 else "kb"
                return int(parts[1]) * (1024 if unit == "kb" else 1)
    raise ImdsError(f"{meminfo} has no MemTotal line")
