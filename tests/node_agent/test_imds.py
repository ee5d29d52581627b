"""The IMDSv2 client against FakeImds (moto serves no instance metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent.imds import Imds, ImdsError, InstanceIdentity, memory_bytes, retried
from tools.harness.fakes import FakeImds, instance_metadata


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    fake = FakeImds(instance_metadata("i-0abc"))
    yield fake
    fake.stop()


def test_identity_comes_from_instance_metadata(imds: FakeImds) -> None:
    assert Imds(imds.url).identity() == InstanceIdentity(
        instance_id="i-0abc",
        instance_type="r6i.xlarge",
        private_ip="10.0.1.17",
        availability_zone="eu-west-1a",
    )


def test_every_read_carries_a_token_fetched_first(imds: FakeImds) -> None:
    Imds(imds.url).identity()
    assert imds.requests[0] == ("PUT", "/latest/api/token", True)
    assert all(valid for method, _, valid in imds.requests)


def test_the_token_is_reused_between_reads(imds: FakeImds) -> None:
    client = Imds(imds.url)
    client.identity()
    client.target_lifecycle_state()
    assert [r for r in imds.requests if r[0] == "PUT"] == [("PUT", "/latest/api/token", True)]


def test_a_revoked_token_is_replaced_once(imds: FakeImds) -> None:
    client = Imds(imds.url)
    client.instance_id()
    imds.revoke_tokens()
    assert client.instance_id() == "i-0abc"
    assert len([r for r in imds.requests if r[0] == "PUT"]) == 2


def test_target_lifecycle_state_is_read_as_is(imds: FakeImds) -> None:
    imds.set("autoscaling/target-lifecycle-state", "Terminated")
    assert Imds(imds.url).target_lifecycle_state() == "Terminated"


def test_no_lifecycle_state_outside_an_auto_scaling_group(imds: FakeImds) -> None:
    imds.set("autoscaling/target-lifecycle-state", None)
    assert Imds(imds.url).target_lifecycle_state() is None


def test_no_spot_notice_reads_as_none(imds: FakeImds) -> None:
    assert Imds(imds.url).spot_instance_action() is None
    assert Imds(imds.url).rebalance_recommendation() is None


def test_spot_notice_is_parsed(imds: FakeImds) -> None:
    imds.set("spot/instance-action", {"action": "terminate", "time": "2026-11-26T05:00:00Z"})
    assert Imds(imds.url).spot_instance_action() == {"action": "terminate", "time": "2026-11-26T05:00:00Z"}


def test_garbled_spot_notice_is_an_error(imds: FakeImds) -> None:
    imds.set("spot/instance-action", "not json")
    with pytest.raises(ImdsError, match="spot/instance-action is not JSON"):
        Imds(imds.url).spot_instance_action()


def test_unreachable_imds_is_an_error_naming_the_call() -> None:
    with pytest.raises(ImdsError, match="token request"):
        Imds("http://127.0.0.1:9", timeout=0.5).instance_id()


def test_missing_instance_id_is_an_error(imds: FakeImds) -> None:
    imds.set("instance-id", None)
    with pytest.raises(ImdsError, match="no instance-id"):
        Imds(imds.url).identity()


def test_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32601048 kB\nMemFree:         1000 kB\n")
    assert memory_bytes(meminfo) == 32601048 * 1024


def test_meminfo_without_memtotal_is_an_error(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree: 1 kB\n")
    with pytest.raises(ImdsError, match="no MemTotal"):
        memory_bytes(meminfo)


COORDINATOR_ADDRESS = "10.0.1.10"


def interfaces(imds: FakeImds, *per_mac: list[str]) -> None:
    """Make IMDS list one interface per entry, each with its private IPv4s."""
    macs = [f"0a:00:00:00:00:{n:02x}" for n in range(len(per_mac))]
    imds.set("network/interfaces/macs/", "\n".join(f"{mac}/" for mac in macs))
    for mac, ips in zip(macs, per_mac, strict=True):
        imds.set(f"network/interfaces/macs/{mac}/local-ipv4s", "\n".join(ips))


def test_the_coordinator_with_the_address_interface_holds_the_address(imds: FakeImds) -> None:
    interfaces(imds, ["10.0.1.17"], [COORDINATOR_ADDRESS])
    assert Imds(imds.url).holds_address(COORDINATOR_ADDRESS)


def test_a_standby_coordinator_does_not_hold_the_address(imds: FakeImds) -> None:
    interfaces(imds, ["10.0.1.18"])
    assert not Imds(imds.url).holds_address(COORDINATOR_ADDRESS)


def test_a_worker_does_not_hold_the_address(imds: FakeImds) -> None:
    interfaces(imds, ["10.0.2.31", "10.0.2.32"])
    assert not Imds(imds.url).holds_address(COORDINATOR_ADDRESS)


def test_the_answer_follows_a_move_of_the_address(imds: FakeImds) -> None:
    client = Imds(imds.url)
    interfaces(imds, ["10.0.1.17"], [COORDINATOR_ADDRESS])
    assert client.holds_address(COORDINATOR_ADDRESS)
    interfaces(imds, ["10.0.1.17"])
    assert not client.holds_address(COORDINATOR_ADDRESS)


def test_a_retried_read_waits_half_a_second_doubling_to_five_and_raises_the_last_error() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def read() -> str:
        calls.append(1)
        raise ImdsError(f"no answer {len(calls)}")

    with pytest.raises(ImdsError, match="no answer 7"):
        retried(read, 7, waits.append)
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_retried_read_returns_the_first_answer() -> None:
    answers = iter([ImdsError("lagging"), "InService"])

    def read() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retried(read, 3, lambda _: None) == "InService"


def test_no_tries_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts=0"):
        retried(lambda: "x", 0, lambda _: None)
