"""The home's locks, in one place: the warehouse writer lock and the two pipeline-run locks.

- ``warehouse.lock``: DuckDB allows one read-write process per file, so every writer (a run,
  a CLI ingest, a publish) takes it and a second writer waits its turn instead of failing.
- ``pipeline.queued.lock`` / ``pipeline.running.lock``: at most one upload-triggered run
  executes and at most one waits (`moatmetrics.upload_runs`); the schedule skips a tick while
  either is held (`orchestration.schedules`).

All are `flock` locks on files in the home, so they are released when the holder dies.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from moatmetrics.settings import Settings, ensure_home

QUEUED_LOCK = "pipeline.queued.lock"
RUNNING_LOCK = "pipeline.running.lock"
WAREHOUSE_LOCK = "warehouse.lock"


class WarehouseLockTimeout(RuntimeError):
    """Another MoatMetrics process is writing the warehouse."""


def take_lock(path: Path, blocking: bool) -> IO[str] | None:
    """The open, locked file; None when not blocking and another process holds it."""
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the lock
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    return handle


def lock_held(path: Path) -> bool:
    """Whether another process holds the lock on `path` (a missing file is not held)."""
    if not path.exists():
        return False
    handle = take_lock(path, blocking=False)
    if handle is None:
        return True
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def pipeline_run_active(settings: Settings) -> bool:
    """An upload-triggered run holds one of the pipeline locks."""
    return any(lock_held(settings.home / name) for name in (QUEUED_LOCK, RUNNING_LOCK))


@contextmanager
def warehouse_lock(settings: Settings, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the home's writer lock.

    DuckDB allows one read-write process per file; the lock makes a second writer (a CLI
    ingest during a scheduled run, say) wait its turn instead of failing on the file lock.
    """
    ensure_home(settings)
    with open(settings.home / WAREHOUSE_LOCK, "a+") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() > deadline:
                    raise WarehouseLockTimeout(
                        f"another MoatMetrics process has been writing {settings.warehouse_path}"
                        f" for over {timeout_s:.0f} s"
                    ) from exc
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
