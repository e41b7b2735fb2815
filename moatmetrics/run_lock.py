"""The home's locks, in one place: the warehouse writer lock and the two pipeline-run locks.

- ``warehouse.lock``: DuckDB allows one read-write process per file, so every writer (a run,
  a CLI ingest, a publish) takes it and a second writer waits its turn instead of failing.
- ``pipeline.queued.lock`` / ``pipeline.running.lock``: at most one upload-triggered run
  executes and at most one waits (`moatmetrics.upload_runs`); the schedule skips a tick while
  either is held (`orchestration.schedules`).

Every `moatmetrics run` (by hand or from an upload) holds the *running* lock for its whole
length (`pipeline_running_lock`), so two runs never write the warehouse at once: the second
waits and then runs. Each CLI run also holds a *worker lock* of its own (`worker_lock`, path
in the run's tag `moatmetrics/worker_lock`); the kernel drops it when the process dies, however
it dies (kill -9, the OOM killer), so `worker_gone` tells a run that is still going from one
whose process is gone, and `fail_orphaned_runs` marks the latter failed in Dagster's run
storage. Otherwise such a run would stay STARTED for ever and, with one run allowed at a time,
the daemon would never launch another.

All are `flock` locks on files in the home, so they are released when the holder dies.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from moatmetrics.settings import Settings, ensure_home

if TYPE_CHECKING:
    from dagster import DagsterInstance

QUEUED_LOCK = "pipeline.queued.lock"
RUNNING_LOCK = "pipeline.running.lock"
WAREHOUSE_LOCK = "warehouse.lock"
#: Run tag: the lock file a run's process holds while it executes (see `worker_gone`).
WORKER_LOCK_TAG = "moatmetrics/worker_lock"
ORPHANED_MESSAGE = (
    "The process executing this run ended without finishing it (killed, out of memory, or the"
    " machine stopped); marked failed so that the next run can start."
)
#: Crash tests stop a run at a named point: MOATMETRICS_PAUSE_AT=<point>:<folder>.
PAUSE_ENV = "MOATMETRICS_PAUSE_AT"

_running: list[IO[str]] = []  # the running lock, while this process holds it


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


@contextmanager
def pipeline_running_lock(
    settings: Settings, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the home's running lock: one pipeline run at a time; a second one waits its turn.

    Re-entrant within a process: `python -m moatmetrics.runs` takes it before its queued lock
    is given up, then runs `moatmetrics run` in the same process, which takes it again.
    `on_wait` is called once if the lock is held elsewhere, before waiting.
    """
    if _running:
        yield
        return
    path = settings.home / RUNNING_LOCK
    handle = take_lock(path, blocking=False)
    if handle is None:
        if on_wait is not None:
            on_wait()
        handle = take_lock(path, blocking=True)
    assert handle is not None
    _running.append(handle)
    try:
        yield
    finally:
        _running.remove(handle)
        handle.close()


@contextmanager
def worker_lock(settings: Settings, run_id: str) -> Iterator[Path]:
    """Hold a lock file of this run's own while it executes; yields its path (for the tag).

    Taken before the run is created in Dagster's storage and removed only after the run has
    finished there, so a STARTED run whose lock is free has no process left.
    """
    folder = settings.home / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.lock"
    handle = take_lock(path, blocking=False)
    if handle is None:  # a run id is new: only a clash of ids could get here
        raise RuntimeError(f"the worker lock {path} is held by another process")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        handle.close()


def worker_gone(lock_path: str) -> bool:
    """True when no process holds a run's worker lock any more (its process has ended).

    The lock is held with flock, which the kernel releases when the holder dies, even by
    SIGKILL; nothing needs to know the process id, so a reused pid cannot fool it.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:  # removed only after the run finished, or the home was cleared
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also releases the lock if this call took it
    return True


def fail_orphaned_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed every started run whose worker lock is free; returns their run ids.

    Only runs with the worker-lock tag are judged (CLI and upload-triggered runs); runs
    launched by the daemon are watched by their code server and by run monitoring.
    """
    from dagster import DagsterRunStatus, RunsFilter

    in_progress = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
    failed = []
    for record in instance.get_run_records(RunsFilter(statuses=in_progress)):
        lock_path = record.dagster_run.tags.get(WORKER_LOCK_TAG)
        if not lock_path or not worker_gone(lock_path):
            continue
        run = instance.get_run_by_id(record.dagster_run.run_id)
        if run is None or run.is_finished:  # it finished between the query and the lock
            continue
        instance.report_run_failed(run, ORPHANED_MESSAGE)
        Path(lock_path).unlink(missing_ok=True)
        failed.append(run.run_id)
    return failed


def pause_point(name: str) -> None:
    """Stop here while MOATMETRICS_PAUSE_AT names this point (crash tests only).

    Writes ``<folder>/<name>.reached`` and waits until ``<folder>/<name>.release`` exists, so a
    test can kill the run at exactly this point, or hold it there, without relying on timing.
    Unset (always, outside tests), it returns at once.
    """
    point, _, folder = os.environ.get(PAUSE_ENV, "").partition(":")
    if point != name or not folder:
        return
    Path(folder, f"{name}.reached").write_text(str(os.getpid()))
    while not Path(folder, f"{name}.release").exists():
        time.sleep(0.05)
