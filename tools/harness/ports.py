"""Free loopback ports, picked at runtime so that parallel runs on one machine do not collide."""

from __future__ import annotations

import socket
import threading

_lock = threading.Lock()
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port that nothing listens on now and that this process has not handed out before.

    The kernel picks it (bind to port 0), so two test runs side by side get different ports; the
    set of ports already given out keeps one run from handing the same port to two servers that
    have not bound it yet.
    """
    with _lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free loopback port after 50 tries")


def is_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
