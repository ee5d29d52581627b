"""The coordinator address stand-in (tools/harness/address.py) behaves like an address in a VPC.

Checked with plain TCP echo servers: the integration tests that rely on it (failover, rollout)
would otherwise blame Trino or the functions for what the stand-in does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tools.harness import address
from tools.harness.address import AddressStandIn


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"echo:" + conn.recv(1024))

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def ask(url_port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", url_port), timeout=timeout) as conn:
        conn.sendall(b"hello")
        return conn.recv(1024)


def test_a_request_sent_while_the_address_is_attached_to_nobody_reaches_the_next_holder(
    echo_port: int,
) -> None:
    """As a client's SYN retransmission reaches the instance the ENI is attached to next."""
    holder: list[str | None] = [None]
    stand_in = AddressStandIn(lambda: holder[0], {"i-new": echo_port})
    try:
        threading.Timer(0.5, lambda: holder.__setitem__(0, "i-new")).start()
        assert ask(stand_in.port) == b"echo:hello"
    finally:
        stand_in.close()


def test_a_request_to_an_address_nobody_takes_is_dropped_after_the_hold(
    echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(address, "UNREACHABLE_HOLD_SECONDS", 0.5)
    stand_in = AddressStandIn(lambda: None, {"i-new": echo_port})
    try:
        with pytest.raises(OSError):
            answer = ask(stand_in.port, timeout=3.0)
            if not answer:
                raise ConnectionResetError("closed without an answer")
    finally:
        stand_in.close()


def test_once_a_detach_call_returns_the_old_holder_gets_no_new_connection(
    echo_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In AWS a detached interface's old instance gets no more packets; the poll alone would lag."""
    monkeypatch.setattr(address, "POLL_SECONDS", 3600.0)  # only the call's own refresh can see it
    monkeypatch.setattr(address, "UNREACHABLE_HOLD_SECONDS", 0.5)
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        subnet = ec2.create_subnet(
            VpcId=ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"], CidrBlock="10.0.0.0/24"
        )["Subnet"]["SubnetId"]
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)[
            "Instances"
        ][0]["InstanceId"]
        eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        attachment = ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance, DeviceIndex=1)

        def holder() -> str | None:
            (interface,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
            return interface.get("Attachment", {}).get("InstanceId")

        stand_in = AddressStandIn(holder, {instance: echo_port})
        stand_in.follow(ec2)
        try:
            assert ask(stand_in.port) == b"echo:hello"
            ec2.detach_network_interface(AttachmentId=attachment["AttachmentId"])
            with pytest.raises(OSError):
                if not ask(stand_in.port, timeout=3.0):
                    raise ConnectionResetError("closed without an answer")
        finally:
            stand_in.close()
