"""What both Lambda functions (failover, worker health) need besides their own decisions.

Shipped inside each function's zip next to contract.py and trino.py, so it may use only the
standard library and boto3/botocore (both part of the Lambda Python runtime).

The functions act on a production cluster from outside it, so every way an invocation can go
wrong has one defined, non-destructive outcome here: a bad environment variable stops the
invocation before any AWS call, an event it does not understand is logged and ignored, and an AWS
error is sorted into a kind (denied, throttled, gone) that the caller turns into a log line
instead of a retry loop.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TextIO, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from node_agent import aws as node_aws
from node_agent.contract import TRINO_HTTP_PORT, TRINO_HTTPS_PORT, FunctionEnv
from node_agent.trino.admin import TrinoAdmin

# Bounded retries for every AWS call: throttling gets a few backed-off attempts inside one call,
# never a loop that outlives the invocation.
AWS_MAX_ATTEMPTS = 4


# --- structured log lines ----------------------------------------------------------------------
def log_line(function: str, decision: str, *, stream: TextIO | None = None, **fields: Any) -> dict[str, Any]:
    """Write one JSON object on one line: CloudWatch Logs Insights reads its fields as columns.

    Printed to stdout rather than through `logging`, because the Lambda runtime's logging handler
    prefixes each message with text that would stop the line from being JSON.
    """
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "function": function,
        "decision": decision,
    }
    record.update(fields)
    out = stream or sys.stdout
    out.write(json.dumps(record, default=str, sort_keys=False) + "\n")
    out.flush()
    return record


# --- configuration from the environment --------------------------------------------------------
class ConfigError(ValueError):
    """The function's environment cannot be used; the message names every bad variable."""


class EnvReader:
    """Reads typed values from the environment and collects every problem before failing."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: FunctionEnv, default: str | None = None) -> str:
        value = self.environ.get(name.value, "").strip()
        if value:
            return value
        if default is None:
            self.problems.append(f"{name.value} is required and not set")
            return ""
        return default

    def choice(self, name: FunctionEnv, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in allowed:
            self.problems.append(f"{name.value}={value!r} is not allowed (allowed: {', '.join(allowed)})")
        return value

    def integer(self, name: FunctionEnv, default: int, *, minimum: int, maximum: int) -> int:
        raw = self.text(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name.value}={raw!r} is not a whole number ({minimum}..{maximum})")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name.value}={value} is out of range ({minimum}..{maximum})")
        return value

    def number(self, name: FunctionEnv, default: float, *, minimum: float, maximum: float) -> float:
        raw = self.text(name, str(default))
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name.value}={raw!r} is not a number ({minimum}..{maximum})")
            return default
        if not math.isfinite(value) or not minimum <= value <= maximum:
            self.problems.append(f"{name.value}={raw} is out of range ({minimum}..{maximum})")
        return value

    def check(self) -> None:
        if self.problems:
            raise ConfigError("invalid function environment: " + "; ".join(self.problems))


@dataclass(frozen=True)
class TrinoAccess:
    """How a function reaches Trino: scheme and port of every node, and the management identity."""

    scheme: str = "http"
    port: int | None = None  # None: Trino's default for the scheme (8080 / 8443)
    password_secret_arn: str | None = None
    shared_secret_arn: str | None = None  # the cluster's internal secret (discovery calls)
    ca_bundle: str | None = None  # PEM text
    timeout_seconds: float = 3.0

    @classmethod
    def from_env(cls, env: EnvReader, *, timeout_seconds: float) -> TrinoAccess:
        scheme = env.choice(FunctionEnv.TRINO_SCHEME, ("http", "https"), "http")
        default_port = TRINO_HTTPS_PORT if scheme == "https" else TRINO_HTTP_PORT
        return cls(
            scheme=scheme,
            port=env.integer(FunctionEnv.TRINO_PORT, default_port, minimum=1, maximum=65535),
            password_secret_arn=env.environ.get(FunctionEnv.MANAGEMENT_PASSWORD_SECRET_ARN.value) or None,
            shared_secret_arn=env.environ.get(FunctionEnv.SHARED_SECRET_ARN.value) or None,
            ca_bundle=env.environ.get(FunctionEnv.CA_BUNDLE.value) or None,
            timeout_seconds=timeout_seconds,
        )

    def url(self, address: str) -> str:
        port = self.port or (TRINO_HTTPS_PORT if self.scheme == "https" else TRINO_HTTP_PORT)
        return f"{self.scheme}://{address}:{port}"


class TrinoClients:
    """Builds TrinoAdmin clients for node addresses; resolves the password and CA file once.

    `resolve_url` is the seam between an instance's private address and the URL that reaches its
    Trino; in AWS it is `scheme://ip:port`, in tests it maps moto's addresses to local servers.
    """

    def __init__(
        self,
        access: TrinoAccess,
        *,
        secrets_client: Any = None,
        resolve_url: Callable[[str], str] | None = None,
        tls_server_name: str | None = None,
    ) -> None:
        """`tls_server_name`: the name to check certificates for when nodes are reached at other
        addresses than the one the certificate names (see TrinoAdmin)."""
        self.access = access
        self._secrets_client = secrets_client
        self.resolve_url = resolve_url or access.url
        self.tls_server_name = tls_server_name
        self._secrets: dict[str, str] = {}  # ARN -> value, read once per invocation
        self._ca_file: str | None = None

    def admin(self, address: str) -> TrinoAdmin:
        return TrinoAdmin(
            self.resolve_url(address),
            password=self._management_password(),
            ca_bundle=self._ca_path(),
            timeout=self.access.timeout_seconds,
            tls_server_name=self.tls_server_name,
        )

    def shared_secret(self) -> str | None:
        """The cluster's internal secret (node_agent.trino.discovery signs with it); None if unset."""
        if self.access.shared_secret_arn is None:
            return None
        return self._secret(self.access.shared_secret_arn)

    def _management_password(self) -> str | None:
        if self.access.password_secret_arn is None:
            return None
        return self._secret(self.access.password_secret_arn)

    def _secret(self, arn: str) -> str:
        if arn not in self._secrets:
            answer = self._secrets_client.get_secret_value(SecretId=arn)
            self._secrets[arn] = str(answer["SecretString"])
        return self._secrets[arn]

    def _ca_path(self) -> str | None:
        # TrinoAdmin wants a file; the CA arrives as PEM text in the environment.
        if self.access.ca_bundle is None:
            return None
        if self._ca_file is None:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(self.access.ca_bundle)
            self._ca_file = handle.name
        return self._ca_file


# --- AWS errors -------------------------------------------------------------------------------
class AwsErrorKind(StrEnum):
    DENIED = "access_denied"
    THROTTLED = "throttled"
    NOT_FOUND = "not_found"
    INVALID = "invalid_request"
    OTHER = "other"


_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
_THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
_NOT_FOUND_SUFFIXES = (".NotFound", ".Malformed")


def aws_error_kind(exc: BaseException) -> AwsErrorKind:
    """Sort an AWS failure into what the caller does about it (the caller never retries)."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _DENIED:
            return AwsErrorKind.DENIED
        if code in _THROTTLED:
            return AwsErrorKind.THROTTLED
        if code.endswith(_NOT_FOUND_SUFFIXES):
            return AwsErrorKind.NOT_FOUND
        if code in {"ValidationError", "InvalidParameterValue", "InvalidParameterCombination"}:
            return AwsErrorKind.INVALID
    return AwsErrorKind.OTHER


def aws_error_fields(exc: BaseException) -> dict[str, Any]:
    """The log fields that let an operator fix an AWS failure: which call, which code, what AWS said."""
    if isinstance(exc, ClientError):
        return {
            "aws_operation": str(exc.operation_name),
            "aws_error_code": str(exc.response.get("Error", {}).get("Code", "")),
            "aws_error_kind": aws_error_kind(exc).value,
            "aws_message": str(exc.response.get("Error", {}).get("Message", "")),
        }
    return {"aws_error_kind": AwsErrorKind.OTHER.value, "aws_message": str(exc)}


AWS_ERRORS = (ClientError, BotoCoreError)


# --- events -----------------------------------------------------------------------------------
class TriggerKind(StrEnum):
    SCHEDULE = "schedule"
    EC2_STATE_CHANGE = "ec2_state_change"
    AUTOSCALING = "autoscaling"
    TEST_NOTIFICATION = "test_notification"
    MANUAL = "manual"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    detail: str = ""  # what an operator needs to tell one invocation from another
    instance_id: str | None = None


def classify_event(event: object) -> Trigger:
    """What started this invocation. Anything unrecognised is UNKNOWN, which callers ignore (and
    log, with the detail saying what was odd). No shape of event raises: a scheduled function that
    crashed on one odd event would retry it, and an exception names nothing an operator can fix.
    """
    if not isinstance(event, dict):
        return Trigger(TriggerKind.UNKNOWN, f"event is a {type(event).__name__}, not a JSON object")
    if not event:
        return Trigger(TriggerKind.MANUAL, "empty event (manual invocation)")
    odd_records = _records_problem(event)
    if odd_records:
        return Trigger(TriggerKind.UNKNOWN, odd_records)
    if _is_test_notification(event):
        return Trigger(TriggerKind.TEST_NOTIFICATION, "Auto Scaling test notification")
    source, detail_type = event.get("source"), event.get("detail-type")
    detail = event.get("detail")
    if source == "aws.events" and detail_type == "Scheduled Event":
        return Trigger(TriggerKind.SCHEDULE, str(event.get("resources") or ""))
    if source == "aws.ec2" and detail_type == "EC2 Instance State-change Notification":
        if not isinstance(detail, dict) or not isinstance(detail.get("instance-id"), str):
            return Trigger(TriggerKind.UNKNOWN, "EC2 state-change event without detail.instance-id")
        return Trigger(
            TriggerKind.EC2_STATE_CHANGE, f"state {detail.get('state')}", instance_id=detail["instance-id"]
        )
    if source == "aws.autoscaling" and isinstance(detail_type, str):
        instance_id = detail.get("EC2InstanceId") if isinstance(detail, dict) else None
        return Trigger(
            TriggerKind.AUTOSCALING,
            detail_type,
            instance_id=instance_id if isinstance(instance_id, str) else None,
        )
    return Trigger(TriggerKind.UNKNOWN, f"source={source!r:.100} detail-type={detail_type!r:.100}")


def _records_problem(event: dict[str, Any]) -> str | None:
    """Why an SNS-style `Records` list cannot be read, or None (absent, or a list of records)."""
    if "Records" not in event:
        return None
    records = event["Records"]
    if not isinstance(records, list):
        return f"Records is a {type(records).__name__}, not a list"
    for n, record in enumerate(records):
        if not isinstance(record, dict):
            return f"Records[{n}] is a {type(record).__name__}, not an object"
        if "Sns" in record and not isinstance(record["Sns"], dict):
            return f"Records[{n}].Sns is a {type(record['Sns']).__name__}, not an object"
    return None


def _is_test_notification(event: dict[str, Any]) -> bool:
    """Auto Scaling sends autoscaling:TEST_NOTIFICATION when a notification target is set up.
    Called only once _records_problem found the Records readable."""
    if event.get("Event") == "autoscaling:TEST_NOTIFICATION":
        return True
    detail = event.get("detail")
    if isinstance(detail, dict) and detail.get("Event") == "autoscaling:TEST_NOTIFICATION":
        return True
    for record in event.get("Records") or []:
        message = record.get("Sns", {}).get("Message")
        if isinstance(message, str) and "autoscaling:TEST_NOTIFICATION" in message:
            return True
    return False


# --- clocks -------------------------------------------------------------------------------------
class Clock:
    """Wall time and sleep behind one seam, so a test can run a minute-long watch instantly."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC)


def remaining_seconds(context: object, default: float) -> float:
    """Seconds left before Lambda stops this invocation (`default` when run outside Lambda)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if callable(getter):
        return float(getter()) / 1000.0
    return default


def env_reader(environ: Mapping[str, str] | None = None) -> EnvReader:
    return EnvReader(os.environ if environ is None else environ)


# --- the start of every invocation --------------------------------------------------------------
ConfigT = TypeVar("ConfigT")
AWS_SERVICES = ("ec2", "autoscaling", "cloudwatch", "secretsmanager")


@dataclass(frozen=True)
class Invocation(Generic[ConfigT]):
    """An invocation that is to run: what started it, its configuration, and its AWS clients."""

    trigger: Trigger
    config: ConfigT
    aws: dict[str, Any]


def start_invocation(
    function: str,
    event: object,
    *,
    run_on: Collection[TriggerKind],
    read_config: Callable[[EnvReader], ConfigT],
    environ: Mapping[str, str] | None = None,
    clients: Mapping[str, Any] | None = None,
) -> Invocation[ConfigT] | dict[str, Any]:
    """Decide whether this invocation runs at all, before it makes a single AWS call.

    Returns the summary to hand back at once (and logs it) for an event the function does not run
    on ("ignored") or an environment it cannot use ("misconfigured"); otherwise the Invocation,
    with a client for each of AWS_SERVICES: the injected one where `clients` has it (tests), else
    one built by the agent's node_agent.aws.client with AWS_MAX_ATTEMPTS, so no call retries
    beyond the invocation.
    """
    trigger = classify_event(event)
    if trigger.kind not in run_on:
        log_line(function, "ignored_event", trigger=trigger.kind.value, reason=trigger.detail)
        return {"outcome": "ignored", "reason": trigger.detail}
    try:
        config = read_config(env_reader(environ))
    except ConfigError as exc:
        log_line(function, "misconfigured", reason=str(exc))
        return {"outcome": "misconfigured", "reason": str(exc)}
    aws = dict(clients) if clients else {}
    for service in AWS_SERVICES:
        if service not in aws:
            aws[service] = node_aws.client(service, max_attempts=AWS_MAX_ATTEMPTS)
    return Invocation(trigger, config, aws)
