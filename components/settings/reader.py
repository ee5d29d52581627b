"""Reading raw config strings into typed values, collecting every problem with its key."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from components import aws_limits
from components.settings.keys import (
    KNOWN,
    PROJECT,
)
from components.settings.model import SecretText

# --- patterns the sections share ----------------------------------------------------------------
ID = {
    "vpc": re.compile(r"^vpc-[0-9a-f]{8,17}$"),
    "subnet": re.compile(r"^subnet-[0-9a-f]{8,17}$"),
    "sg": re.compile(r"^sg-[0-9a-f]{8,17}$"),
    "ami": re.compile(r"^ami-[0-9a-f]{8,17}$"),
}
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
# The longest name the program derives from the cluster name for a resource Pulumi auto-names
# under a 64-character limit: the failover's EventBridge rule and target
# "<cluster>-coordinators-failover-state-change" plus Pulumi's 8-character suffix. The request
# check (tests/unit/test_aws_requests.py) runs a stack with the longest accepted name and fails if
# any generated name no longer fits, so this bound cannot silently go stale.
LONGEST_AUTO_NAMED_SUFFIX = "-coordinators-failover-state-change"
MAX_CLUSTER_NAME = aws_limits.auto_name_room("aws:cloudwatch/eventRule:EventRule") - len(
    LONGEST_AUTO_NAMED_SUFFIX
)
CLUSTER_NAME = re.compile(rf"^[a-z][a-z0-9-]{{1,{MAX_CLUSTER_NAME - 2}}}[a-z0-9]$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_]*$")
CATALOG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PROPERTY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-\[\]]*$")
# A catalog property whose name ends in one of these words holds a credential (connection-password,
# aws-secret-key, oauth2.token); key-column or keystore-path do not.
CREDENTIAL_WORDS = frozenset({"password", "passwd", "secret", "key", "token", "credential", "credentials"})
BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
INDEX_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")
AMI_OWNER = re.compile(r"^(self|amazon|aws-marketplace|\d{12})$")
ARN = {
    "secretsmanager": re.compile(
        r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
    ),
    "kms": re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"),
    "sns": re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"),
}
# Nodes read their tags through instance metadata, which refuses keys with other characters.
TAG_KEY = re.compile(r"^[A-Za-z0-9+\-=.,_:@]+$")
PEM_CERT = "-----BEGIN CERTIFICATE-----"
# The worker-health function carries tlsCaBundle in its environment; leave room in Lambda's 4 KB
# (aws_limits.LAMBDA_ENVIRONMENT_BYTES) for its other variables.
MAX_CA_BUNDLE_BYTES = aws_limits.LAMBDA_ENVIRONMENT_BYTES.value - 1096


class ConfigReader:
    """Typed access to the raw string values; every failure is recorded, never raised."""

    def __init__(self, raw: Mapping[str, str], secret_keys: set[str]) -> None:
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{full_key(key)}: {message}")

    def has(self, key: str) -> bool:
        return self._text(key) is not None

    def _text(self, key: str) -> str | None:
        if key not in KNOWN:
            raise KeyError(f"{key!r} is read but not listed in components/settings/keys/")
        return self.raw.get(key)

    def string(self, key: str, pattern: re.Pattern[str] | None = None, allowed: str = "") -> str | None:
        text = self._text(key)
        if text is None:
            return None
        if pattern is not None and not pattern.match(text):
            self.problem(key, f"{text!r} is not valid (allowed: {allowed or KNOWN[key].allowed})")
            return None
        return text

    def required(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        if not self.has(key):
            self.problem(
                key, f"missing required key (allowed: {KNOWN[key].allowed}; example: {KNOWN[key].example})"
            )
            return ""
        return self.string(key, pattern) or ""

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        text = self._text(key)
        if text is None:
            return default
        if text not in choices:
            self.problem(key, f"{text!r} is not one of {', '.join(choices)}")
            return default
        return text

    def boolean(self, key: str, default: bool) -> bool:
        text = self._text(key)
        if text is None:
            return default
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        self.problem(key, f"{text!r} is not a boolean (allowed: true, false)")
        return default

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        text = self._text(key)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            self.problem(key, f"{text!r} is not an integer (allowed: {low}..{high})")
            return default
        if not low <= value <= high:
            self.problem(key, f"{value} is out of range (allowed: {KNOWN[key].allowed})")
            return default
        return value

    def number(self, key: str, default: float, check: Callable[[float], bool]) -> float:
        text = self._text(key)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not check(value):
            self.problem(key, f"{text!r} is not valid (allowed: {KNOWN[key].allowed})")
            return default
        return value

    def structured(self, key: str, kind: type) -> Any:
        """A list or map, given as JSON text (what the CLI passes for structured config)."""
        text = self._text(key)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, kind):
            noun = "list" if kind is list else "map"
            self.problem(key, f"must be a {noun} ({KNOWN[key].type}), got {text!r}")
            return None
        return value

    def string_list(
        self, key: str, check: Callable[[str], str | None], default: tuple[str, ...] = ()
    ) -> tuple:
        items = self.structured(key, list)
        if items is None:
            return default
        good = []
        for item in items:
            reason = check(item) if isinstance(item, str) else "is not a string"
            if reason:
                self.problem(key, f"item {item!r} {reason} (allowed: {KNOWN[key].allowed})")
            else:
                good.append(item)
        return tuple(good)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.structured(key, dict)
        if value is None:
            return {}
        result = {}
        for name, item in value.items():
            if isinstance(item, dict | list) or item is None:
                self.problem(key, f"value of {name!r} must be a string, number or boolean")
                continue
            result[str(name)] = scalar_text(item)
        return result


def full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def scalar_text(value: object) -> str:
    """How the Pulumi CLI hands a YAML scalar to the program: booleans lowercase, numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    return lambda item: None if pattern.match(item) else "is not valid"


def cidr_problem(item: str) -> str | None:
    try:
        network = ipaddress.ip_network(item, strict=True)
    except ValueError:
        return "is not a CIDR with its host bits zero"
    if network.version != 4:
        return "is not an IPv4 CIDR"
    if network.prefixlen == 0:
        return "opens Trino to the whole internet"
    return None


def is_empty_list(text: str) -> bool:
    try:
        return json.loads(text) == []
    except json.JSONDecodeError:
        return False


def is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def secret_text(reader: ConfigReader, key: str) -> SecretText | None:
    text = reader.string(key)
    if text is None:
        return None
    if key not in reader.secret_keys:
        reader.problem(key, f"is stored in plain text; set it with `pulumi config set --secret {key} ...`")
        return None
    return SecretText(text)
