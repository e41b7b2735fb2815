"""The Dagster instance of a run in this process, its SQLite event log kept connected.

Dagster's `SqliteEventLogStorage` opens a new SQLAlchemy engine and SQLite connection for every
event it stores, commits with a full sync, and throws both away: a pipeline run writes about
600 events (every dbt model and test becomes an asset event or check, mirrored in the index
database), and that cost 4 s of a 13 s run on the small demo, more than dbt's own run of
168 nodes (py-spy; docs/benchmarks.md). The runs this process executes (`moatmetrics run`,
upload-triggered runs, rebuilds: `orchestration.pipeline`) store their events through a
subclass with the same tables, files and layout (`$DAGSTER_HOME/history/runs/<run id>.db`
and `index.db`), so the UI, the daemon and an existing home's history read them unchanged,
with these differences:

- one engine per database, kept while it is in use (the index, the runs this process has
  touched last), instead of one per event;
- the index's tables looked up once: Dagster asks whether the asset-check table exists before
  storing every check event (a new engine and SQLite connection per question, about 280 a
  full run of the small demo: 0.7 s a run, py-spy); a table found stays found, since
  Dagster's schema only changes with `dagster instance migrate`, outside a run;
- `synchronous=NORMAL` on its connections. Dagster creates these databases in WAL mode, where
  NORMAL cannot corrupt a database; a power cut may lose a run's last events, which the next
  start's orphan check and run monitoring already deal with (the run is marked failed).
  Snapshots, uploads and the audit log are not here.

Measured on the small demo, three runs each: time in `store_event` 3.9–6.7 s a run -> 1.2–2.1 s.

The home's `dagster.yaml` is not changed: the UI and the daemon keep Dagster's own storage
(their runs pay the old cost), and a home configured for other storage (PostgreSQL,
docs/operations.md) keeps it here too.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.instance.factory import create_instance_from_ref
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

#: Run databases kept connected besides the index: a run writes one.
KEPT_RUN_DATABASES = 4


def home_instance(dagster_home: Path) -> DagsterInstance:
    """The instance `DagsterInstance.get()` would give for this Dagster home, with the event log
    kept connected when the home uses Dagster's default SQLite storage."""
    ref = InstanceRef.from_dir(os.fspath(dagster_home))
    data = ref.storage_data
    if data is not None and (data.module_name, data.class_name) == (
        DagsterSqliteStorage.__module__,
        DagsterSqliteStorage.__name__,
    ):
        connected = ConfigurableClassData(
            __name__, ConnectedSqliteStorage.__name__, data.config_yaml
        )
        ref = ref._replace(storage_data=connected)
    return create_instance_from_ref(ref)


class ConnectedSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage with `ConnectedSqliteEventLogStorage` as its event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = ConnectedSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> ConnectedSqliteStorage:
        return cls(inst_data=inst_data, **config_value)


class ConnectedSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that reuses an engine per database (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[tuple[int, str], Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._index_tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    def has_table(self, table_name: str) -> bool:
        """Whether the index database has the table, asked of the kept engine; remembered once
        found (not while missing: a migration may add it)."""
        if table_name in self._index_tables:
            return True
        with self._engine(INDEX_SHARD_NAME).connect() as conn:
            found = bool(conn.dialect.has_table(conn, table_name))
        if found:
            self._index_tables.add(table_name)
        return found

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made on first use; the least recently used run's goes first."""
        key = (os.getpid(), shard)  # a forked child must not share its parent's connections
        with self._engines_lock:
            engine = self._engines.get(key)
            if engine is not None:
                self._engines.move_to_end(key)
                return engine
            engine = create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", _synchronous_normal)
            self._engines[key] = engine
            runs = [k for k in self._engines if k[1] != INDEX_SHARD_NAME]
            for stale in runs[: max(0, len(runs) - KEPT_RUN_DATABASES)]:
                self._engines.pop(stale).dispose()
            return engine

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # its run databases are deleted: none may stay open
        self._index_tables.clear()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
