"""The run launcher of the shipped `dagster.yaml`: Dagster's default, plus a worker health check.

Dagster's run monitoring (the daemon's `run_monitoring`) asks the run launcher whether the
process of each STARTED run is still alive; `DefaultRunLauncher` cannot tell
(`supports_check_run_worker_health` is False), so a run whose process was killed outside the
code server's sight — every `moatmetrics run` and upload-triggered run, which execute in
their own process — stayed STARTED for ever and, with one run allowed at a time, the daemon
never launched another. Such runs carry the tag `moatmetrics/worker_lock`: the lock file their
process holds while it runs (`moatmetrics.run_lock.worker_lock`). This launcher reports a run whose
lock is free as FAILED, and run monitoring then marks it failed, freeing the queue.

Runs the daemon launched have no such tag: their worker is a child of the code server, which
marks it failed itself when it dies; for them this check answers RUNNING ("cannot tell"), and
run monitoring's `max_runtime_seconds` is the last resort. The launcher cannot resume a run
(`max_resume_run_attempts: 0`); crashed runs are retried from the failed step by run retries.
"""

from __future__ import annotations

from dagster import DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

from moatmetrics.run_lock import ORPHANED_MESSAGE, WORKER_LOCK_TAG, worker_gone


class MoatMetricsRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` with a health check for runs that hold a worker lock."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        lock_path = run.tags.get(WORKER_LOCK_TAG)
        if lock_path is None:
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, "launched by the daemon: its code server watches it"
            )
        if worker_gone(lock_path):
            return CheckRunHealthResult(WorkerStatus.FAILED, ORPHANED_MESSAGE)
        return CheckRunHealthResult(WorkerStatus.RUNNING)
