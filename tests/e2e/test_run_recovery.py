"""A run killed with SIGKILL leaves nothing that stops or falsifies the next one.

Real `moatmetrics run` processes, each held at a named point in the publish step and killed
there (tests/run_crash.py), then a run that completes normally:

1. killed after writing its `.building` snapshot file, before the rename: its Dagster run is
   left STARTED, its locks are free at once; the next run marks it failed and deletes the file;
2. killed after `current` moved to its snapshot, before the `pipeline.publish` audit entry:
   the next run records the missing entry (marked late) and marks the killed run failed.

And two runs at once: the second waits for the first, then runs; neither fails.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from run_crash import Run, dagster_runs, lock_is_free, new_home, run_failure_messages, wait_for

from moatmetrics.run_lock import ORPHANED_MESSAGE, RUNNING_LOCK, WORKER_LOCK_TAG
from moatmetrics.settings import Settings, get_settings
from moatmetrics.snapshots import BUILDING_SUFFIX, current_snapshot_id, list_snapshots

pytestmark = pytest.mark.usefixtures("dbt_manifest")


@dataclass
class KilledRuns:
    home: Path
    first_run: str  # killed while its snapshot file was being built
    first_status_after_kill: str
    locks_free_after_kill: dict[str, bool]
    building_after_kill: list[str]
    second_run: str  # killed between `current` moving and the audit entry
    first_status_after_second: str
    building_after_second: list[str]
    second_snapshot: str
    second_audited_before_recovery: bool
    recovery_output: str
    recovery_exit: int


def _settings(home: Path) -> Settings:
    return dataclasses.replace(get_settings(), home=home)


def _building(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "snapshots").glob(f".*{BUILDING_SUFFIX}"))


def _publish_entries(home: Path) -> dict[str, dict]:
    """target -> details of the `pipeline.publish` entries that say ok."""
    import sqlite3

    with sqlite3.connect(home / "app.db") as con:
        rows = con.execute(
            "SELECT target, details FROM audit_log"
            " WHERE action = 'pipeline.publish' AND outcome = 'ok'"
        ).fetchall()
    return {target: json.loads(details or "{}") for target, details in rows}


def _the_new_run(home: Path, known: set[str]) -> str:
    (run_id,) = set(dagster_runs(home)) - known
    return run_id


@pytest.fixture(scope="module")
def killed_runs(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> KilledRuns:
    env = new_home(tmp_path_factory.mktemp("killed"))
    home = Path(env["MOATMETRICS_HOME"])

    first = Run(env, pause_at="publish.building")
    first.wait_paused()
    first.kill()
    first_run = _the_new_run(home, set())
    first_status = dagster_runs(home)[first_run].status.value
    locks = {
        name: lock_is_free(home / name)
        for name in ("warehouse.lock", RUNNING_LOCK, f"runs/{first_run}.lock")
    }
    building_after_kill = _building(home)

    second = Run(env, pause_at="publish.unrecorded")
    second.wait_paused()
    second.kill()
    second_run = _the_new_run(home, {first_run})
    snapshot = current_snapshot_id(_settings(home))
    audited = f"snapshots/{snapshot}" in _publish_entries(home)
    first_after = dagster_runs(home)[first_run].status.value
    building_after_second = _building(home)

    recovery = Run(env)
    output = recovery.finish()
    return KilledRuns(
        home=home,
        first_run=first_run,
        first_status_after_kill=first_status,
        locks_free_after_kill=locks,
        building_after_kill=building_after_kill,
        second_run=second_run,
        first_status_after_second=first_after,
        building_after_second=building_after_second,
        second_snapshot=snapshot,
        second_audited_before_recovery=audited,
        recovery_output=output,
        recovery_exit=recovery.process.returncode,
    )


def test_a_killed_run_is_marked_failed_at_the_next_start(killed_runs: KilledRuns) -> None:
    # Left as it was: STARTED, with the worker lock that tells it is dead.
    assert killed_runs.first_status_after_kill == "STARTED"
    runs = dagster_runs(killed_runs.home)
    assert WORKER_LOCK_TAG in runs[killed_runs.first_run].tags
    # The next run's start marks it failed, and says why; the same for the second kill.
    assert killed_runs.first_status_after_second == "FAILURE"
    for run_id in (killed_runs.first_run, killed_runs.second_run):
        assert runs[run_id].status.value == "FAILURE"
        assert ORPHANED_MESSAGE in run_failure_messages(killed_runs.home, run_id)
    assert killed_runs.recovery_exit == 0, killed_runs.recovery_output
    assert "succeeded" in killed_runs.recovery_output
    assert not list((killed_runs.home / "runs").glob("*.lock"))


def test_a_killed_run_holds_no_lock(killed_runs: KilledRuns) -> None:
    """Killed in the publish step, under the warehouse lock: every lock is free at once."""
    assert killed_runs.locks_free_after_kill == {
        "warehouse.lock": True,
        RUNNING_LOCK: True,
        f"runs/{killed_runs.first_run}.lock": True,
    }


def test_the_next_publish_removes_a_killed_publish_s_building_file(
    killed_runs: KilledRuns,
) -> None:
    assert len(killed_runs.building_after_kill) == 1  # the half-written copy of the marts
    assert killed_runs.building_after_second == []  # gone at the second run's publish
    assert _building(killed_runs.home) == []


def test_a_publish_killed_before_its_audit_entry_gets_it_at_the_next_publish(
    killed_runs: KilledRuns,
) -> None:
    from moatmetrics.appdb.audit import verify

    assert not killed_runs.second_audited_before_recovery  # the window the kill hit
    entries = _publish_entries(killed_runs.home)
    late = entries[f"snapshots/{killed_runs.second_snapshot}"]
    assert late["recorded_late"] is True
    assert late["reason"] == "the publishing run ended before it recorded this publish"
    # Every published snapshot now has its entry, and the chain is intact.
    settings = _settings(killed_runs.home)
    published = {s.snapshot_id for s in list_snapshots(settings)}
    assert len(published) == 2
    assert {f"snapshots/{s}" for s in published} <= set(entries)
    assert verify(settings).valid


def test_a_second_run_waits_for_the_first_then_runs(tmp_path: Path) -> None:
    env = new_home(tmp_path)
    home = Path(env["MOATMETRICS_HOME"])
    first = Run(env, pause_at="publish.building")
    first.wait_paused()  # inside its run, holding the warehouse
    # A file the first run did not see: the second has something new to build.
    (home / "landing" / "clients_new.csv").write_text(
        "client_id,client_name,industry\nC-NEW,Newco Dental,dental\n"
    )
    second = Run(env)
    wait_for(lambda: "another pipeline run is in progress" in second.stderr(), "the wait notice")
    assert second.process.poll() is None  # waiting, not failed
    first.release()
    first_output, second_output = first.finish(), second.finish()
    assert first.process.returncode == 0, first_output
    assert second.process.returncode == 0, second_output
    runs = sorted(dagster_runs(home).values(), key=lambda run: run.run_id)
    assert [run.status.value for run in runs] == ["SUCCESS", "SUCCESS"]
    settings = _settings(home)
    assert len(list_snapshots(settings)) == 2
    assert _building(home) == []
