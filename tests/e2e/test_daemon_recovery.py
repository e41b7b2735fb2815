"""After a run is killed with SIGKILL, the Dagster daemon launches the next scheduled run by
itself: a real `dagster-daemon` with the shipped dagster.yaml (run monitoring, the run queue of
one), the schedule turned on with the documented command, and nobody clearing anything.

Without run monitoring and the launcher's worker health check the killed run stays STARTED,
and the scheduled run waits in the queue behind it for good. The test stops once the daemon
has launched the scheduled run (its worker executes it); tests/test_run_recovery.py shows a
run after a kill completing and publishing.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from checkout import REPO_ROOT
from dagster._core.launcher import WorkerStatus
from run_crash import (
    Run,
    dagster_runs,
    new_home,
    run_failure_messages,
    stop_process_group,
    wait_for,
)

from moatmetrics.run_lock import ORPHANED_MESSAGE
from moatmetrics.settings import DAGSTER_INSTANCE_YAML

pytestmark = pytest.mark.usefixtures("dbt_manifest")

BIN = Path(sys.executable).parent


def test_the_daemon_launches_the_scheduled_run_after_a_killed_run(tmp_path: Path) -> None:
    env = {**new_home(tmp_path), "MOATMETRICS_SCHEDULE_CRON": "* * * * *"}
    home = Path(env["MOATMETRICS_HOME"])
    killed = Run(env, pause_at="publish.building")
    killed.wait_paused()
    killed.kill()
    (killed_run,) = dagster_runs(home)
    assert dagster_runs(home)[killed_run].status.value == "STARTED"

    workspace = str(files("orchestration") / "workspace.yaml")  # as `moatmetrics ui` finds it
    started = subprocess.run(
        [str(BIN / "dagster"), "schedule", "start", "daily_pipeline", "-w", workspace],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    with open(tmp_path / "daemon.log", "wb") as log:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", workspace],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:

        def scheduled_run_launched():
            # Left the queue: its worker is executing it (or has finished it).
            scheduled = [
                run
                for run in dagster_runs(home).values()
                if run.tags.get("moatmetrics/trigger") == "schedule"
                and run.status.value in ("STARTED", "SUCCESS", "FAILURE")
            ]
            return scheduled[0] if scheduled else None

        scheduled = wait_for(scheduled_run_launched, "the daemon to launch the scheduled run")
        log_text = (tmp_path / "daemon.log").read_text(errors="replace")
        assert scheduled.status.value != "FAILURE", log_text[-5000:]
    finally:
        stop_process_group(daemon)
    # The run monitor found the killed run's process gone and marked it failed.
    assert dagster_runs(home)[killed_run].status.value == "FAILURE"
    assert any(ORPHANED_MESSAGE in m for m in run_failure_messages(home, killed_run))


def test_shipped_instance_config_monitors_runs(tmp_path: Path) -> None:
    """Run monitoring is on, with the launcher that can tell a dead CLI run from a live one;
    the default launcher cannot resume runs, so Dagster requires no resume attempts."""
    import dagster as dg

    from orchestration.run_launcher import MoatMetricsRunLauncher

    (tmp_path / "dagster.yaml").write_text(DAGSTER_INSTANCE_YAML.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled is True
        assert isinstance(instance.run_launcher, MoatMetricsRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health is True
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_poll_interval_seconds == 30
        assert 0 < instance.run_monitoring_start_timeout_seconds <= 600
        assert instance.run_monitoring_max_runtime_seconds >= 3600


def test_worker_health_follows_the_worker_lock(tmp_path: Path) -> None:
    """Held by a live process: running. Its process killed: failed. No tag (launched by the
    daemon): running, since its code server watches it."""
    import signal

    import dagster as dg

    from moatmetrics.run_lock import WORKER_LOCK_TAG
    from orchestration.run_launcher import MoatMetricsRunLauncher

    lock = tmp_path / "run.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a+');"
         " fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        launcher = MoatMetricsRunLauncher()
        tagged = dg.DagsterRun(job_name="j", run_id="r1", tags={WORKER_LOCK_TAG: str(lock)})
        assert launcher.check_run_worker_health(tagged).status == WorkerStatus.RUNNING
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        dead = launcher.check_run_worker_health(tagged)
        assert dead.status == WorkerStatus.FAILED and dead.msg == ORPHANED_MESSAGE
        untagged = dg.DagsterRun(job_name="j", run_id="r2")
        assert launcher.check_run_worker_health(untagged).status == WorkerStatus.RUNNING
    finally:
        holder.kill()
        holder.wait(timeout=60)
