"""Free TCP ports on loopback, so parallel or repeated test runs never collide on a fixed port.

Ports are handed out in turn from a block below the kernel's ephemeral range (32768 and up on
Linux), one block per test process (pytest-xdist's worker number), so no outgoing connection and
no other worker takes a port a test has chosen but not yet bound (a deployment binds its ports
minutes after choosing them, once every image is built).
"""

from __future__ import annotations

import itertools
import os
import socket
import time

LOOPBACK = "127.0.0.1"
BLOCK = 3000
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_PORTS = itertools.cycle(range(20000 + BLOCK * _WORKER, 20000 + BLOCK * (_WORKER + 1)))


def _is_free(port: int, host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = LOOPBACK) -> int:
    """The next port of this process's block that is free on ``host`` right now."""
    for _ in range(BLOCK):
        port = next(_PORTS)
        if _is_free(port, host):
            return port
    raise RuntimeError(f"no free port left in this test process's block of {BLOCK}")


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free ports."""
    return [free_port(host) for _ in range(count)]


def port_is_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, host: str = LOOPBACK, timeout: float = 30.0) -> None:
    """Block until ``host:port`` accepts connections; TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_open(port, host):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
