"""The scale-in function: which workers a scale-in takes, and what it answers when it cannot ask Trino.

The choice is pure (functions/scale_in/rules.py); the faults go through the real handler: a
coordinator port nothing listens on, one that accepts and never answers (a paused JVM), one that
answers garbage, a deleted password secret in moto, and events and environments it cannot read.
The choice against a real coordinator with uneven work is tests/integration/test_scale_in.py.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from functions.scale_in.handler import handler
from functions.scale_in.rules import EventError, ScaleInRequest, idlest, suggested_ids, work_by_node
from tests.functions.moto_cluster import AwsClients, LogLines
from tools.harness.ports import free_port

GROUP_ARN = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:autoScalingGroupName/w"


def instance(iid: str, zone: str = "us-east-1a", market: str = "on-demand") -> dict[str, str]:
    return {
        "InstanceId": iid,
        "AvailabilityZone": zone,
        "InstanceType": "r6i.xlarge",
        "InstanceMarketOption": market,
    }


def event(instances: list[dict[str, str]], *shares: tuple[str, int, str]) -> dict[str, Any]:
    """Auto Scaling's payload (the shape in its termination-policy docs); shares are (zone, n, market)."""
    return {
        "AutoScalingGroupARN": GROUP_ARN,
        "AutoScalingGroupName": "trino-dev-workers",
        "CapacityToTerminate": [
            {"AvailabilityZone": zone, "Capacity": n, "InstanceMarketOption": market}
            for zone, n, market in shares
        ],
        "Instances": instances,
        "Cause": "SCALE_IN",
        "HasMoreInstances": False,
    }


def choose(payload: dict[str, Any], work: dict[str, tuple[int, int]]) -> list[str]:
    return idlest(ScaleInRequest.parse(payload), work)


# --- the choice ---------------------------------------------------------------------------------
def test_the_worker_with_the_least_running_work_goes_first_whatever_auto_scalings_order() -> None:
    payload = event([instance("i-busy"), instance("i-idle")], ("us-east-1a", 1, "on-demand"))
    assert choose(payload, {"i-busy": (3, 40), "i-idle": (0, 0)}) == ["i-idle"]


def test_each_zone_gives_up_its_own_share_from_its_own_idlest() -> None:
    payload = event(
        [
            instance("a-busy"),
            instance("a-idle"),
            instance("b-busy", "us-east-1b"),
            instance("b-idle", "us-east-1b"),
        ],
        ("us-east-1a", 1, "on-demand"),
        ("us-east-1b", 1, "on-demand"),
    )
    work = {"a-busy": (2, 9), "a-idle": (1, 1), "b-busy": (5, 50), "b-idle": (0, 0)}
    assert choose(payload, work) == ["a-idle", "b-idle"]


def test_a_share_takes_only_workers_of_its_market_option() -> None:
    payload = event(
        [instance("spot-idle", market="spot"), instance("od-busy")], ("us-east-1a", 1, "on-demand")
    )
    assert choose(payload, {"od-busy": (4, 4)}) == ["od-busy"]


def test_a_worker_the_coordinator_does_not_list_has_no_work_there_and_goes_first() -> None:
    payload = event([instance("i-joined"), instance("i-booting")], ("us-east-1a", 1, "on-demand"))
    assert choose(payload, {"i-joined": (1, 0)}) == ["i-booting"]


def test_fewer_splits_break_a_tie_in_tasks() -> None:
    payload = event([instance("i-many"), instance("i-few")], ("us-east-1a", 1, "on-demand"))
    assert choose(payload, {"i-many": (2, 30), "i-few": (2, 3)}) == ["i-few"]


def test_equal_work_keeps_auto_scalings_order() -> None:
    payload = event([instance("i-first"), instance("i-second")], ("us-east-1a", 1, "on-demand"))
    assert choose(payload, {}) == ["i-first"]


def test_a_share_larger_than_its_candidates_takes_every_candidate_and_no_other() -> None:
    payload = event([instance("i-a"), instance("i-b", "us-east-1b")], ("us-east-1a", 3, "on-demand"))
    assert choose(payload, {}) == ["i-a"]


def test_at_1000_workers_the_share_is_the_idlest_of_all_of_them() -> None:
    instances = [instance(f"i-{n:04d}", f"us-east-1{'abc'[n % 3]}") for n in range(1000)]
    work = {f"i-{n:04d}": (n % 7, n) for n in range(1000)}
    payload = event(instances, *[(f"us-east-1{z}", 100, "on-demand") for z in "abc"])
    chosen = choose(payload, work)
    assert len(chosen) == len(set(chosen)) == 300
    for zone in "abc":
        in_zone = [i["InstanceId"] for i in instances if i["AvailabilityZone"] == f"us-east-1{zone}"]
        picked = [i for i in chosen if i in in_zone]
        kept = [i for i in in_zone if i not in picked]
        assert max(work[i] for i in picked) <= min(work[i] for i in kept)


def test_trinos_rows_become_tasks_and_splits_per_node() -> None:
    assert work_by_node([["i-1", 3, 12], ["i-2", 1, None]]) == {"i-1": (3, 12), "i-2": (1, 0)}


def test_a_row_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        work_by_node([["i-1", 3]])


# --- events it cannot read ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"CapacityToTerminate": None}, "CapacityToTerminate is missing"),
        ({"Instances": "i-1"}, "Instances is str, not a list"),
        (
            {"CapacityToTerminate": [{"AvailabilityZone": "us-east-1a", "Capacity": -1}]},
            "CapacityToTerminate[0]",
        ),
        ({"Instances": [{"InstanceId": "i-1"}]}, "Instances[0] has no AvailabilityZone"),
        ({"AutoScalingGroupName": ""}, "AutoScalingGroupName"),
    ],
)
def test_an_event_that_is_not_auto_scalings_request_is_refused_with_the_field_named(
    change: dict[str, Any], named: str
) -> None:
    payload = {**event([instance("i-1")], ("us-east-1a", 1, "on-demand")), **change}
    with pytest.raises(EventError, match=named.replace("[", r"\[").replace("]", r"\]")):
        ScaleInRequest.parse(payload)


def test_auto_scalings_list_is_read_leniently_for_the_default_answer() -> None:
    payload = {"Instances": [instance("i-1"), {"InstanceId": 7}, "junk", {"InstanceId": "i-2"}]}
    assert suggested_ids(payload) == ["i-1", "i-2"]
    assert suggested_ids("not an event") == []


# --- the handler: every fault answers Auto Scaling's own order -----------------------------------
@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> LogLines:
    lines = LogLines()
    monkeypatch.setattr("functions.scale_in.handler.log_line", lines)
    return lines


def environ(port: int, **extra: str) -> dict[str, str]:
    return {
        "CLUSTER": "trino-dev",
        "COORDINATOR_ADDRESS": "127.0.0.1",
        "TRINO_PORT": str(port),
        "PROBE_TIMEOUT_SECONDS": "0.5",
        **extra,
    }


SUGGESTED = event([instance("i-busy"), instance("i-idle")], ("us-east-1a", 1, "on-demand"))


def test_a_coordinator_nothing_listens_on_gets_auto_scalings_own_order(logs: LogLines) -> None:
    assert handler(SUGGESTED, None, environ=environ(free_port())) == {"InstanceIDs": ["i-busy", "i-idle"]}
    (line,) = logs.of("scale_in_default_order")
    assert "Trino could not say" in line["reason"]


@pytest.fixture
def paused_coordinator() -> Iterator[int]:
    """Accepts connections and never answers, as a paused JVM's kernel does."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield server.getsockname()[1]
    server.close()


def test_a_coordinator_that_accepts_and_never_answers_gets_auto_scalings_own_order_within_the_budget(
    logs: LogLines, paused_coordinator: int
) -> None:
    assert handler(SUGGESTED, None, environ=environ(paused_coordinator))["InstanceIDs"] == [
        "i-busy",
        "i-idle",
    ]
    assert logs.of("scale_in_default_order")


class GarbageTrino(http.server.BaseHTTPRequestHandler):
    """A fake: answers every request with a body that is not Trino's protocol."""

    def do_POST(self) -> None:
        body = b"<html>proxy error</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return None


@pytest.fixture
def garbage_coordinator() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GarbageTrino)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_a_coordinator_answering_garbage_gets_auto_scalings_own_order(
    logs: LogLines, garbage_coordinator: int
) -> None:
    assert handler(SUGGESTED, None, environ=environ(garbage_coordinator))["InstanceIDs"] == [
        "i-busy",
        "i-idle",
    ]
    assert logs.of("scale_in_default_order")


def test_a_deleted_password_secret_gets_auto_scalings_own_order(aws: AwsClients, logs: LogLines) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:trino-dev-management-AbCdEf"
    answer = handler(
        SUGGESTED,
        None,
        environ=environ(free_port(), MANAGEMENT_PASSWORD_SECRET_ARN=missing, TRINO_SCHEME="https"),
        clients={"secretsmanager": aws.secretsmanager},
    )
    assert answer["InstanceIDs"] == ["i-busy", "i-idle"]
    (line,) = logs.of("scale_in_default_order")
    assert "ResourceNotFoundException" in line["reason"]


def test_a_misconfigured_environment_gets_auto_scalings_own_order_and_names_the_variable(
    logs: LogLines,
) -> None:
    answer = handler(SUGGESTED, None, environ={"CLUSTER": "trino-dev", "PROBE_TIMEOUT_SECONDS": "soon"})
    assert answer["InstanceIDs"] == ["i-busy", "i-idle"]
    (line,) = logs.of("scale_in_default_order")
    assert "COORDINATOR_ADDRESS is required" in line["reason"]
    assert "PROBE_TIMEOUT_SECONDS='soon'" in line["reason"]


def test_an_event_it_cannot_read_gets_what_can_be_read_of_auto_scalings_list(logs: LogLines) -> None:
    payload = {**SUGGESTED, "CapacityToTerminate": "all"}
    assert handler(payload, None, environ=environ(free_port()))["InstanceIDs"] == ["i-busy", "i-idle"]
    (line,) = logs.of("scale_in_default_order")
    assert "CapacityToTerminate is str" in line["reason"]
