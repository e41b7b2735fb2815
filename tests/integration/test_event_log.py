"""The kept-connected Dagster event log (orchestration/event_log.py) writes what Dagster reads.

Its runs are read by the UI and the daemon through Dagster's own `SqliteEventLogStorage`, so
every event written here must come back through that class, from the same files; it keeps a
bounded number of run databases open, and none once disposed or wiped.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage

from moatmetrics.settings import DAGSTER_INSTANCE_YAML
from orchestration.event_log import (
    KEPT_RUN_DATABASES,
    ConnectedSqliteEventLogStorage,
    ConnectedSqliteStorage,
    home_instance,
)


def _message(run_id: str, text: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level="INFO", user_message=text, run_id=run_id, timestamp=time.time()
    )


def _open_run_databases(storage: ConnectedSqliteEventLogStorage) -> set[str]:
    return {shard for _, shard in storage._engines} - {"index"}


def test_events_written_connected_are_read_by_dagsters_own_storage(tmp_path: Path) -> None:
    connected = ConnectedSqliteEventLogStorage(str(tmp_path))
    runs = [str(uuid.uuid4()) for _ in range(KEPT_RUN_DATABASES + 2)]
    for run_id in runs:
        for n in range(3):
            connected.store_event(_message(run_id, f"{run_id} event {n}"))
    # The oldest runs' databases were closed; the newest stay open for the run's next events.
    assert _open_run_databases(connected) == set(runs[-KEPT_RUN_DATABASES:])
    connected.store_event(_message(runs[0], "after its database was closed"))  # opens it again
    assert runs[0] in _open_run_databases(connected)
    assert len(_open_run_databases(connected)) == KEPT_RUN_DATABASES

    dagsters = SqliteEventLogStorage(str(tmp_path))
    for run_id in runs:
        messages = [entry.user_message for entry in dagsters.get_logs_for_run(run_id)]
        expected = [f"{run_id} event {n}" for n in range(3)]
        if run_id == runs[0]:
            expected.append("after its database was closed")
        assert messages == expected
    dagsters.dispose()

    connected.wipe()  # deletes the run databases: none may stay open behind it
    assert _open_run_databases(connected) == set()
    assert connected.get_logs_for_run(runs[-1]) == []
    connected.dispose()
    assert connected._engines == {}


def test_a_home_with_the_default_storage_gets_the_connected_event_log(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(DAGSTER_INSTANCE_YAML.read_text())
    with home_instance(tmp_path) as instance:
        assert isinstance(instance._event_storage, ConnectedSqliteEventLogStorage)
        assert isinstance(instance.get_ref().storage, ConnectedSqliteStorage)
        assert instance.telemetry_enabled is False  # the rest of the home's config applies
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert Path(instance._event_storage._base_dir) == tmp_path / "history" / "runs"


def test_a_home_naming_its_own_sqlite_folder_keeps_it(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    config = DAGSTER_INSTANCE_YAML.read_text() + f"storage:\n  sqlite:\n    base_dir: {other}\n"
    (tmp_path / "dagster.yaml").write_text(config)
    with home_instance(tmp_path) as instance:
        assert isinstance(instance._event_storage, ConnectedSqliteEventLogStorage)
        assert Path(instance._event_storage._base_dir) == other / "history" / "runs"


def test_a_home_configured_for_other_storage_keeps_dagsters(tmp_path: Path) -> None:
    """Storage configured otherwise (PostgreSQL, docs/operations.md; here Dagster's per-store
    form) is Dagster's to open: the instance is exactly what `DagsterInstance.get()` gives."""
    events = tmp_path / "events"
    config = DAGSTER_INSTANCE_YAML.read_text() + (
        "event_log_storage:\n"
        "  module: dagster._core.storage.event_log\n"
        "  class: SqliteEventLogStorage\n"
        f"  config:\n    base_dir: {events}\n"
    )
    (tmp_path / "dagster.yaml").write_text(config)
    with home_instance(tmp_path) as instance:
        assert type(instance._event_storage) is SqliteEventLogStorage
        assert Path(instance._event_storage._base_dir) == events


def test_the_index_tables_are_looked_up_on_the_kept_engine_and_remembered_once_found(
    tmp_path: Path, monkeypatch
) -> None:
    """Dagster asks `has_table("asset_check_executions")` before storing each check event; its
    own answer opens a new engine and SQLite connection each time. Here the kept engine
    answers, a table found is remembered, a missing one is asked again (a migration adds it)."""
    import sqlite3

    from dagster._core.storage.event_log.sqlite import sqlite_event_log

    connected = ConnectedSqliteEventLogStorage(str(tmp_path))
    dagsters = SqliteEventLogStorage(str(tmp_path))
    for table in ("asset_check_executions", "event_logs", "no_such_table"):
        assert connected.has_table(table) == dagsters.has_table(table)
    dagsters.dispose()

    def no_new_engine(*args, **kwargs):
        raise AssertionError("has_table opened a new engine")

    monkeypatch.setattr(sqlite_event_log, "create_engine", no_new_engine)
    for _ in range(3):
        assert connected.has_table("asset_check_executions")
        assert not connected.has_table("added_later")
    with sqlite3.connect(tmp_path / "index.db") as index:  # a migration adds it
        index.execute("CREATE TABLE added_later (id INTEGER)")
    assert connected.has_table("added_later")
    connected.dispose()
