"""Crash-test helpers: real `moatmetrics run` processes held at a named point, then killed.

A run started with `pause_at` stops at that point (`moatmetrics.run_lock.pause_point`, variable
MOATMETRICS_PAUSE_AT) and says so with a file; the test then kills it with SIGKILL, or lets it
go on, at exactly that point. Nothing here depends on how fast the machine is: every wait polls
for an outcome until a generous deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checkout import REPO_ROOT

from moatmetrics.run_lock import PAUSE_ENV

BIN = Path(sys.executable).parent / "moatmetrics"
HANDMADE = REPO_ROOT / "tests" / "fixtures" / "handmade"
DEADLINE_S = 300.0


def new_home(root: Path) -> dict[str, str]:
    """A home whose landing folder holds the hand-made exports; returns the environment."""
    home = root / "home"
    (home / "landing").mkdir(parents=True)
    for path in HANDMADE.glob("*.csv"):
        shutil.copy(path, home / "landing" / path.name)
    env = {k: v for k, v in os.environ.items() if k != PAUSE_ENV}
    return {**env, "MOATMETRICS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}


class Run:
    """One `moatmetrics run` in a process of its own, optionally held at a pause point."""

    def __init__(self, env: dict[str, str], pause_at: str | None = None) -> None:
        home = Path(env["MOATMETRICS_HOME"])
        self.barrier = home.parent / f"barrier-{time.monotonic_ns()}"
        self.barrier.mkdir()
        self.pause_at = pause_at
        self.stderr_path = self.barrier / "stderr"
        run_env = dict(env)
        if pause_at:
            run_env[PAUSE_ENV] = f"{pause_at}:{self.barrier}"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [str(BIN), "run"], env=run_env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )

    def wait_paused(self) -> None:
        """Until the run stands at its pause point (it fails the test if the run ends first)."""
        reached = self.barrier / f"{self.pause_at}.reached"
        wait_for(
            lambda: reached.exists() or self.process.poll() is not None,
            f"run to reach {self.pause_at}",
        )
        assert reached.exists(), f"the run ended before {self.pause_at}:\n{self.finish()}"

    def release(self) -> None:
        (self.barrier / f"{self.pause_at}.release").touch()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer sends it: no handler, no clean-up in the process."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def finish(self) -> str:
        """Wait for the run to end; returns what it printed."""
        out, _ = self.process.communicate(timeout=DEADLINE_S)
        return f"exit {self.process.returncode}\n{out}\n{self.stderr()}"


def wait_for(condition: Callable[[], Any], what: str, deadline_s: float = DEADLINE_S) -> Any:
    """Poll `condition` until it is true; fail naming `what` after a generous deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def lock_is_free(path: Path) -> bool:
    """True if nobody holds the flock on `path` (taken and released at once)."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return True


def dagster_runs(home: Path) -> dict[str, Any]:
    """run id -> DagsterRun, from the home's Dagster instance (the shipped dagster.yaml)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        return {r.dagster_run.run_id: r.dagster_run for r in instance.get_run_records()}


def run_failure_messages(home: Path, run_id: str) -> list[str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        events = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        return [event.message or "" for event in events]


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM a process started in its own session and its children; then SIGKILL whatever of
    that process group is left (a run worker the daemon launched, its step processes)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
