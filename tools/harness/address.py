"""The coordinator ENI's fixed address, played on loopback: a TCP forwarder that follows moto's ENI.

Every node renders `discovery.uri` as the coordinator address, and users connect to it. In AWS
that address belongs to whichever instance the ENI is attached to; here one local port plays it,
and where its connections go is read from moto (DescribeNetworkInterfaces), so the failover
function's real attach and detach calls decide it, as they do in AWS:

- attached to an instance that a local coordinator plays: forward to that coordinator. A killed
  one refuses (the connection is closed at once); a stopped one (SIGSTOP) accepts and says
  nothing, as a frozen instance does while it still holds the address;
- attached to nothing (a first deploy before the first attach, between a detach and an attach):
  a black hole. The VPC drops packets for an address no interface holds, so a client's connection
  attempt is not answered and its TCP stack retransmits the SYN: if the ENI is attached within
  UNREACHABLE_HOLD_SECONDS, a retransmission reaches the new holder and the request goes through,
  late; if not, the client sees a timeout, not a refusal. Here the kernel has already accepted the
  connection, so it is held unread and then forwarded to the new holder, or dropped;
- when the ENI moves, every forwarded connection is reset: the new holder's kernel knows none of
  them, so the next packet of each gets a RST, and clients must reconnect.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.harness.ports import free_port

UNREACHABLE_HOLD_SECONDS = 10.0
POLL_SECONDS = 0.2
BUFFER = 65536


class AddressStandIn:
    """One loopback port that forwards to the coordinator the ENI is attached to, right now.

    `holder` reads the ENI's attachment (an instance id, or None); `ports` maps the instance ids
    that local coordinators play to their HTTP ports.
    """

    def __init__(self, holder: Callable[[], str | None], ports: Mapping[str, int]) -> None:
        self._read_holder = holder
        self.ports = dict(ports)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._holder: str | None = holder()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._open: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self._threads = [
            threading.Thread(target=self._accept_loop, name="address-accept", daemon=True),
            threading.Thread(target=self._follow_loop, name="address-follow", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def holder(self) -> str | None:
        return self._holder

    def close(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._reset_all()

    def follow(self, ec2: Any) -> None:
        """Re-read the holder the moment `ec2` (a boto3 client) has attached or detached an ENI.

        In AWS, once DescribeNetworkInterfaces shows an interface detached, its old instance gets
        no more packets for the address. The poll alone lags that by up to POLL_SECONDS, in which
        a request would still reach the old holder after the caller saw the detach, a race AWS
        does not have; refreshing inside the call's own thread, before it returns, closes it.
        """
        for operation in ("AttachNetworkInterface", "DetachNetworkInterface"):
            ec2.meta.events.register_first(f"after-call.ec2.{operation}", self._after_move)

    def _after_move(self, **_: Any) -> None:
        self._refresh()

    # --- following the ENI ----------------------------------------------------------------------
    def _follow_loop(self) -> None:
        while not self._stopped.wait(POLL_SECONDS):
            self._refresh()

    def _refresh(self) -> None:
        # One refresh at a time: a poll that read the holder just before a detach must not set
        # the old holder back after the detach's own refresh.
        with self._refreshing:
            try:
                holder = self._read_holder()
            except (OSError, BotoCoreError, ClientError):  # moto busy or reset: keep the last holder
                return
            with self._lock:
                changed = holder != self._holder
                self._holder = holder
            if changed:
                self._reset_all()

    def _reset_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    # --- connections ----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        holder = self._holder
        port = self.ports.get(holder) if holder else None
        if port is None:
            holder = self._wait_for_holder()
            if holder is None:
                _reset(client)  # no SYN retransmission reached anybody: the client times out
                return
            port = self.ports[holder]
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            _reset(client)  # the holder's Trino is gone: nothing listens at the address
            return
        upstream.settimeout(None)
        with self._lock:
            if holder != self._holder or self._stopped.is_set():
                _reset(client)
                _reset(upstream)
                return
            self._open.update((client, upstream))
        pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        pump.start()
        _pump(client, upstream)
        pump.join()
        with self._lock:
            self._open.discard(client)
            self._open.discard(upstream)
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.close()

    def _wait_for_holder(self) -> str | None:
        """The holder once the ENI is attached to a played coordinator, within the hold time."""
        deadline = time.monotonic() + UNREACHABLE_HOLD_SECONDS
        while time.monotonic() < deadline and not self._stopped.is_set():
            holder = self._holder
            if holder is not None and holder in self.ports:
                return holder
            time.sleep(0.05)
        return None


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(BUFFER)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _reset(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0), as a host that does not know the connection answers."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.close()
