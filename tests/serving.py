"""Starting a real server in tests: a free loopback port and waiting until it answers.

Waits here have no deadline of their own: a test's pytest timeout bounds them, so a busy
machine makes a test slower, never red. What a wait can detect (the process it waits for has
exited) fails at once, with the reason.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], T], step: float = 0.2) -> T:
    """Poll `predicate` until it returns something truthy, and return that."""
    while not (value := predicate()):
        time.sleep(step)
    return value


def answers_health(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=5.0).status_code == 200
    except httpx.TransportError:
        return False


def wait_for_api(port: int, process: subprocess.Popen | None = None) -> None:
    """Poll /health until the API on 127.0.0.1:port answers (it may be importing for a while);
    fail as soon as `process`, the server, has exited."""

    def ready() -> bool:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the API process exited with {process.returncode}")
        return answers_health(f"http://127.0.0.1:{port}")

    wait_until(ready)
