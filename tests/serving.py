"""Starting a real server in tests: a free loopback port and waiting until it answers."""

from __future__ import annotations

import socket
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_api(port: int, timeout_s: float = 60.0) -> None:
    """Poll /health until the API on 127.0.0.1:port answers (it may be importing for a while)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "API did not start"
            time.sleep(0.2)
