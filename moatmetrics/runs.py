"""Pipeline runs started by uploads: detached, serialised, coalesced.

`request_run` (called by the API after a file landed) starts ``python -m moatmetrics.runs``
in its own session, so the run survives the request and even an API restart. That process:

1. takes the *queued* lock without waiting; if another process holds it, a run is already
   queued that has not started yet and will see this file too, so it exits;
2. waits for the *running* lock (one run at a time: DuckDB allows one writer per file), then
   gives the queued lock up, so the next upload can queue exactly one more run;
3. runs `moatmetrics run` (ingest the landing folder, dbt build, publish);
4. settles HTTP uploads still marked `received` whose content the warehouse already knew
   (a file imported before by another way is skipped by the landing scan).

So at most one run executes and at most one waits, and every landed file is seen by a run
that starts after it landed.

Every `moatmetrics run` (by hand or from an upload) holds the *running* lock for its whole
length (`pipeline_running_lock`), so two runs never write the warehouse at once: the second
waits and then runs. Each CLI run also holds a *worker lock* of its own (`worker_lock`, path
in the run's tag `moatmetrics/worker_lock`); the kernel drops it when the process dies, however
it dies (kill -9, the OOM killer), so `worker_gone` tells a run that is still going from one
whose process is gone, and `fail_orphaned_runs` marks the latter failed in Dagster's run
storage. Otherwise such a run would stay STARTED for ever and, with one run allowed at a time,
the daemon would never launch another.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from moatmetrics.settings import Settings, get_settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

QUEUED_LOCK = "pipeline.queued.lock"
RUNNING_LOCK = "pipeline.running.lock"
#: Run tag: the lock file a run's process holds while it executes (see `worker_gone`).
WORKER_LOCK_TAG = "moatmetrics/worker_lock"
ORPHANED_MESSAGE = (
    "The process executing this run ended without finishing it (killed, out of memory, or the"
    " machine stopped); marked failed so that the next run can start."
)
#: Crash tests stop a run at a named point: MOATMETRICS_PAUSE_AT=<point>:<folder>.
PAUSE_ENV = "MOATMETRICS_PAUSE_AT"

_running: list[IO[str]] = []  # the running lock, while this process holds it


def request_run(settings: Settings) -> bool:
    """Start a detached run for this home unless MOATMETRICS_RUN_ON_UPLOAD=0."""
    if not settings.run_on_upload:
        return False
    log_path = settings.home / "logs" / "upload-runs.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MOATMETRICS_HOME": str(settings.home)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moatmetrics.runs"],
            cwd=settings.home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Reap the child when it ends so it never lingers as a zombie of the API process.
    threading.Thread(target=process.wait, name="reap-pipeline-run", daemon=True).start()
    return True


def settle_known_uploads(settings: Settings) -> int:
    """Complete `received` uploads whose bytes the warehouse had imported before."""
    from sqlalchemy import select

    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import Upload
    from moatmetrics.appdb.uploads import RECEIVED, record_ingest_result, warehouse_problems
    from moatmetrics.ingest.loader import UploadResult
    from orchestration.resources import warehouse_connection

    with session_scope(settings) as session:
        rows = session.execute(
            select(Upload.warehouse_upload_id, Upload.original_name).where(
                Upload.status == RECEIVED, Upload.warehouse_upload_id.is_not(None)
            )
        ).all()
    pending = {upload_id: name for upload_id, name in rows}
    if not pending or not settings.warehouse_path.exists():
        return 0
    settled = 0
    with warehouse_connection(settings) as con:
        marks = ", ".join("?" for _ in pending)
        known = con.execute(
            "SELECT upload_id, entity, status, rows_loaded FROM ingest.uploads"
            f" WHERE upload_id IN ({marks})",
            list(pending),
        ).fetchall()
        for upload_id, entity, status, rows_loaded in known:
            result = UploadResult(
                file_name=pending[upload_id],
                entity=entity,
                status="unchanged",
                upload_id=upload_id,
                rows_loaded=rows_loaded or 0,
                message=f"already imported before (that import was {status}); nothing changed",
            )
            record_ingest_result(result, warehouse_problems(con, upload_id), settings)
            settled += 1
    return settled


def _locked(path: Path, blocking: bool):  # type: ignore[no-untyped-def]
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the lock
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        handle.close()
        return None
    return handle


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
    handle = _locked(path, blocking=False)
    if handle is None:
        if on_wait is not None:
            on_wait()
        handle = _locked(path, blocking=True)
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
    handle = _locked(path, blocking=False)
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


def main() -> int:
    from moatmetrics.cli import main as cli_main
    from moatmetrics.settings import ensure_home

    settings = get_settings()
    ensure_home(settings)
    queued = _locked(settings.home / QUEUED_LOCK, blocking=False)
    if queued is None:
        print("a pipeline run is already queued; it will ingest this upload too", flush=True)
        return 0
    with pipeline_running_lock(settings):
        with queued:
            fcntl.flock(queued.fileno(), fcntl.LOCK_UN)
        code = cli_main(["run"])
        settled = settle_known_uploads(settings)
        if settled:
            print(f"{settled} upload(s) were already imported before", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
