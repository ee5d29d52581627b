"""What both functions share: event classification, error kinds, settings, Trino access."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import certifi
import pytest
from botocore.exceptions import ClientError

from functions.shared.lambda_support import (
    AWS_MAX_ATTEMPTS,
    AWS_SERVICES,
    AwsErrorKind,
    ConfigError,
    EnvReader,
    TriggerKind,
    TrinoAccess,
    TrinoClients,
    aws_error_kind,
    classify_event,
    log_line,
    remaining_seconds,
    start_invocation,
)
from node_agent.contract import FunctionEnv


@pytest.mark.parametrize(
    ("event", "kind", "instance_id"),
    [
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, TriggerKind.SCHEDULE, None),
        (
            {
                "source": "aws.ec2",
                "detail-type": "EC2 Instance State-change Notification",
                "detail": {"instance-id": "i-1", "state": "stopping"},
            },
            TriggerKind.EC2_STATE_CHANGE,
            "i-1",
        ),
        (
            {
                "source": "aws.autoscaling",
                "detail-type": "EC2 Instance Launch Successful",
                "detail": {"EC2InstanceId": "i-2"},
            },
            TriggerKind.AUTOSCALING,
            "i-2",
        ),
        (
            {
                "source": "aws.autoscaling",
                "detail-type": "x",
                "detail": {"Event": "autoscaling:TEST_NOTIFICATION"},
            },
            TriggerKind.TEST_NOTIFICATION,
            None,
        ),
        ({}, TriggerKind.MANUAL, None),
        (
            {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": "x"},
            TriggerKind.UNKNOWN,
            None,
        ),
        ({"Records": ["not a record"]}, TriggerKind.UNKNOWN, None),
        (42, TriggerKind.UNKNOWN, None),
    ],
    ids=[
        "schedule",
        "ec2",
        "autoscaling",
        "test-in-detail",
        "empty",
        "ec2-bad-detail",
        "bad-records",
        "number",
    ],
)
def test_events_are_classified_by_source_and_detail_type(
    event: Any, kind: TriggerKind, instance_id: str | None
) -> None:
    trigger = classify_event(event)
    assert (trigger.kind, trigger.instance_id) == (kind, instance_id)


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"Records": 5}, "Records is a int, not a list"),
        ({"Records": "abc"}, "Records is a str, not a list"),
        ({"Records": [{"Sns": "x"}]}, "Records[0].Sns is a str, not an object"),
        ({"Records": [{"Sns": None}]}, "Records[0].Sns is a NoneType, not an object"),
        ({"Records": [{"Sns": {"Message": "hi"}}, 7]}, "Records[1] is a int, not an object"),
        ({"Records": None}, "Records is a NoneType, not a list"),
        ({"source": ["aws.events"], "detail-type": {"a": 1}}, "source=['aws.events'] detail-type={'a': 1}"),
        ({"source": "aws.autoscaling", "detail-type": 3, "detail": []}, "source='aws.autoscaling'"),
        ({"Event": ["autoscaling:TEST_NOTIFICATION"], "detail": "x"}, "source=None"),
        ({"detail": {"Event": {"x": 1}}}, "source=None"),
        (None, "event is a NoneType, not a JSON object"),
        ("text", "event is a str, not a JSON object"),
        ([{"source": "aws.events"}], "event is a list, not a JSON object"),
    ],
)
def test_odd_event_shapes_get_a_defined_answer_and_a_log_line(event: Any, why: str, capsys: Any) -> None:
    assert classify_event(event).kind is TriggerKind.UNKNOWN
    answer = start_invocation(
        "worker_health", event, run_on=(TriggerKind.SCHEDULE,), read_config=lambda _env: None
    )
    assert isinstance(answer, dict) and answer["outcome"] == "ignored"
    assert str(answer["reason"]).startswith(why)
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["decision"] == "ignored_event"


def test_a_test_notification_in_a_record_is_still_recognised() -> None:
    event = {"Records": [{"Sns": {"Message": '{"Event": "autoscaling:TEST_NOTIFICATION"}'}}]}
    assert classify_event(event).kind is TriggerKind.TEST_NOTIFICATION


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AccessDenied", AwsErrorKind.DENIED),
        ("UnauthorizedOperation", AwsErrorKind.DENIED),
        ("Throttling", AwsErrorKind.THROTTLED),
        ("RequestLimitExceeded", AwsErrorKind.THROTTLED),
        ("InvalidInstanceID.NotFound", AwsErrorKind.NOT_FOUND),
        ("InvalidNetworkInterfaceID.NotFound", AwsErrorKind.NOT_FOUND),
        ("ValidationError", AwsErrorKind.INVALID),
        ("InternalError", AwsErrorKind.OTHER),
    ],
)
def test_aws_errors_are_sorted_by_what_the_caller_does_about_them(code: str, kind: AwsErrorKind) -> None:
    assert aws_error_kind(ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")) is kind


def test_every_bad_variable_is_reported_at_once() -> None:
    env = EnvReader({"FAILED_PROBES": "x", "TRINO_PORT": "70000"})
    env.text(FunctionEnv.CLUSTER)
    env.integer(FunctionEnv.FAILED_PROBES, 3, minimum=1, maximum=20)
    env.integer(FunctionEnv.TRINO_PORT, 8080, minimum=1, maximum=65535)
    with pytest.raises(ConfigError) as raised:
        env.check()
    message = str(raised.value)
    assert "CLUSTER is required" in message
    assert "FAILED_PROBES='x' is not a whole number" in message
    assert "TRINO_PORT=70000 is out of range (1..65535)" in message


def test_https_defaults_to_the_https_port() -> None:
    access = TrinoAccess.from_env(EnvReader({"TRINO_SCHEME": "https"}), timeout_seconds=3)
    assert access.url("10.0.1.5") == "https://10.0.1.5:8443"


def test_the_management_password_is_read_from_secrets_manager_once(aws: Any) -> None:
    arn = aws.secretsmanager.create_secret(Name="mgmt", SecretString="s3cret")["ARN"]
    calls = []
    aws.secretsmanager.meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_k: calls.append(1)
    )
    clients = TrinoClients(TrinoAccess(password_secret_arn=arn), secrets_client=aws.secretsmanager)
    first, second = clients.admin("10.0.1.5"), clients.admin("10.0.1.6")
    assert (first.password, second.password, len(calls)) == ("s3cret", "s3cret", 1)
    assert first.base_url == "http://10.0.1.5:8080"


def test_the_ca_bundle_from_the_environment_is_written_to_a_file_once_for_tls() -> None:
    pem = Path(certifi.where()).read_text()  # any valid PEM bundle will do
    clients = TrinoClients(TrinoAccess(scheme="https", ca_bundle=pem))
    admin = clients.admin("10.0.1.5")  # builds its TLS context from the file: it must parse
    assert admin.base_url == "https://10.0.1.5:8443"
    first, second = clients._ca_path(), clients._ca_path()
    assert first == second and first is not None and Path(first).read_text() == pem


def test_a_log_line_is_one_json_object() -> None:
    out = io.StringIO()
    log_line("failover", "moved", stream=out, holder="i-1", failures=3)
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert (record["function"], record["decision"], record["holder"], record["failures"]) == (
        "failover",
        "moved",
        "i-1",
        3,
    )


def test_remaining_time_comes_from_the_lambda_context_or_a_default() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 42_500

    assert remaining_seconds(Context(), 90) == 42.5
    assert remaining_seconds(None, 90) == 90


def test_the_clients_an_invocation_builds_retry_only_within_the_invocation(aws: Any) -> None:
    answer = start_invocation(
        "worker_health",
        {"source": "aws.events", "detail-type": "Scheduled Event"},
        run_on=(TriggerKind.SCHEDULE,),
        read_config=lambda _env: None,
    )
    assert not isinstance(answer, dict)
    assert set(answer.aws) == set(AWS_SERVICES)
    for client in answer.aws.values():
        # botocore counts the first try too: max_attempts retries make max_attempts + 1 tries.
        assert client.meta.config.retries == {"total_max_attempts": AWS_MAX_ATTEMPTS + 1, "mode": "standard"}
        assert client.meta.config.read_timeout == 10
