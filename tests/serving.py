"""Starting a real server in tests: a free loopback port and waiting until it answers.

Waits here have no deadline of their own: a test's pytest timeout bounds them, so a busy
machine makes a test slower, never red. What a wait can detect (the process it waits for has
exited) fails at once, with the reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
from checkout import REPO_ROOT

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


def start_api(
    env: Mapping[str, str], log_path: Path | None = None, attempts: int = 3
) -> tuple[subprocess.Popen[bytes], str]:
    """`uvicorn api.main:app` with `env` on a free loopback port, once /health answers: the
    process and its URL. A port can be taken between probe and bind: the server then exits
    and starts again on another port."""
    for _ in range(attempts):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log_path or os.devnull, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log"],
                cwd=REPO_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def ready_or_exited(process: subprocess.Popen[bytes] = process, url: str = url) -> str:
            if process.poll() is not None:
                return "exited"
            return "ready" if answers_health(url) else ""

        if wait_until(ready_or_exited, step=0.1) == "ready":
            return process, url
    log = log_path.read_text(errors="replace") if log_path else "(no log kept)"
    raise RuntimeError(f"uvicorn did not start after {attempts} attempts:\n{log}")


def stop_api(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server, and kill it if it does not stop."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@contextmanager
def served_api(home: Path, log_path: Path | None = None, **env: str) -> Iterator[str]:
    """The API on the MoatMetrics home `home` (rate limit off unless `env` sets it); yields
    its URL and stops it on exit."""
    full_env = {
        **os.environ,
        "MOATMETRICS_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "MOATMETRICS_RATE_LIMIT_PER_MINUTE": "0",
        **env,
    }
    process, url = start_api(full_env, log_path)
    try:
        yield url
    finally:
        stop_api(process)
