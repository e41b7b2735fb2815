"""The DuckDB back end (the default): snapshot files under the home, read-only readers.

`DuckDBStorage` is the catalog of `moatmetrics.snapshots` (immutable files and the CURRENT
pointer); the warehouse a run writes is `warehouse.duckdb` and nothing more, so its run steps
do nothing. `DuckDBSnapshotReader` holds read-only connections to published snapshots, shared
across requests and threads. Why it looks like this:

- The API never opens the warehouse: only the snapshot named by the CURRENT pointer, opened
  with ``read_only=True``, so a pipeline run never blocks or breaks a reader.
- The pointer is re-read on every request (one small file read), so a publish is picked up at
  once without a restart and without any signal between pipeline and API.
- Opening a DuckDB file costs milliseconds, so open connections are cached per snapshot id.
  Each request gets its own ``cursor()`` (a DuckDB connection object must not be shared by two
  threads at once).
- A request that started on a snapshot keeps it: every lease holds a reference, and a
  connection that fell out of the cache is closed only when its last lease ends. Snapshot
  files are never modified or deleted, so the old one stays valid until then.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from moatmetrics import snapshots
from moatmetrics.at_rest.duckdb_files import connect_duckdb, file_cursor
from moatmetrics.at_rest.encryption import EncryptionError
from moatmetrics.marts import PUBLISHED_MARTS
from moatmetrics.seam.base import (
    BrokenPointerError,
    CopiedTable,
    NoSnapshotError,
    Snapshot,
    SnapshotLease,
    SnapshotOpenError,
    Storage,
)
from moatmetrics.settings import Settings
from moatmetrics.snapshot_patching import PATCH_MIN_ROWS


def checked_current_id(settings: Settings) -> str | None:
    """The current snapshot id, None before the first publish; BrokenPointerError when the
    pointer holds anything but a snapshot id."""
    try:
        snapshot_id = snapshots.current_snapshot_id(settings)
    except (OSError, ValueError) as exc:  # unreadable, or not UTF-8
        raise BrokenPointerError from exc
    # Only what `moatmetrics.snapshots` writes (20240501T093000123456Z-1a2b3c) may reach a
    # file path, and undecodable bytes must become a clear 503, not a 500.
    if snapshot_id is not None and not snapshots.SNAPSHOT_ID.match(snapshot_id):
        raise BrokenPointerError
    return snapshot_id


@dataclass
class _Entry:
    snapshot: Snapshot
    path: Path
    connection: duckdb.DuckDBPyConnection
    tables: Mapping[str, Mapping[str, str]]
    leases: int = 0
    retired: bool = False


class DuckDBStorage(Storage):
    """Snapshot files under the home; the warehouse is the local DuckDB file alone."""

    name = "duckdb"
    keeps_dbt_views = True

    def after_ingest(self, con: duckdb.DuckDBPyConnection) -> list[CopiedTable]:
        return []  # dbt builds in the same file

    def after_dbt(self, con: duckdb.DuckDBPyConnection) -> list[CopiedTable]:
        return []  # the trust layer reads what dbt built where it is

    def current_snapshot_id(self) -> str | None:
        return snapshots.current_snapshot_id(self.settings)

    def current_snapshot(self) -> Snapshot | None:
        return snapshots.current_snapshot(self.settings)

    def load_snapshot(self, snapshot_id: str) -> Snapshot:
        return snapshots.load_snapshot(self.settings, snapshot_id)

    def list_snapshots(self) -> list[Snapshot]:
        return snapshots.list_snapshots(self.settings)

    def publish(
        self, marts: tuple[str, ...] = PUBLISHED_MARTS, *, patch_min_rows: int | None = None
    ) -> Snapshot:
        rows = PATCH_MIN_ROWS if patch_min_rows is None else patch_min_rows
        return snapshots.publish(self.settings, marts, patch_min_rows=rows)

    def use_snapshot(self, snapshot_id: str) -> Snapshot:
        return snapshots.use_snapshot(self.settings, snapshot_id)

    def prune(self, keep: int, *, dry_run: bool = False) -> list[str]:
        return snapshots.prune(self.settings, keep, dry_run=dry_run)

    def snapshot_reader(self) -> DuckDBSnapshotReader:
        return DuckDBSnapshotReader(self.settings)


def _mart_tables(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Column name -> SQL type of each table in schema ``marts`` (immutable per snapshot)."""
    rows = connection.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = 'marts'"
        " ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, sql_type in rows:
        tables.setdefault(table, {})[column] = sql_type
    return tables


class DuckDBSnapshotReader:
    """Cache of read-only snapshot connections, at most ``keep`` of them idle at a time."""

    def __init__(self, settings: Settings, keep: int = 2) -> None:
        self._settings = settings
        self._keep = keep
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pointer = settings.snapshots_dir / snapshots.POINTER_NAME
        self._pointer_read: tuple[tuple[int, int, int, int], str | None] | None = None

    def current_id(self) -> str | None:
        """The pointer's snapshot id, read again only when the pointer file changed.

        Every request asks; opening and reading the file each time was a seventh of a
        cached page's cost. A publish replaces the file (a new inode), so its identity
        (inode, size, change and modification times) changes with every publish and the
        next request reads the new id, as before.
        """
        try:
            status = os.stat(self._pointer)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BrokenPointerError from exc
        identity = (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        read = self._pointer_read
        if read is not None and read[0] == identity:
            return read[1]
        snapshot_id = checked_current_id(self._settings)
        self._pointer_read = (identity, snapshot_id)
        return snapshot_id

    def leases_without_io(self) -> bool:
        """True when the current snapshot is open already: a lease is then a dict lookup and
        a cursor. Its first lease after a publish opens the file, in a worker thread."""
        try:
            snapshot_id = self.current_id()
        except BrokenPointerError:
            return False
        return snapshot_id is not None and snapshot_id in self._entries

    def max_leases(self) -> None:
        """No bound: leases share the snapshot's open connection, each with its own cursor."""
        return None

    @contextmanager
    def lease(self) -> Iterator[SnapshotLease]:
        """Pin the current snapshot for one request; raises NoSnapshotError/SnapshotOpenError."""
        snapshot_id = self.current_id()
        if snapshot_id is None:
            raise NoSnapshotError
        entry, cursor = self._acquire(snapshot_id)
        try:
            yield SnapshotLease(entry.snapshot, cursor, entry.tables)
        finally:
            try:
                cursor.close()
            finally:
                self._release(entry)

    def close(self) -> None:
        """Close every idle connection (at shutdown); leased ones close when released."""
        with self._lock:
            for entry in self._entries.values():
                entry.retired = True
                if entry.leases == 0:
                    entry.connection.close()
            self._entries.clear()

    def _open(self, snapshot_id: str) -> _Entry:
        try:
            snapshot = snapshots.load_snapshot(self._settings, snapshot_id)
            path = snapshot.path
            if path is None:  # a file catalog's snapshots are files
                raise ValueError(f"snapshot {snapshot_id} names no file")
            # One DuckDB thread per query: a page is small, and the API's concurrency comes from
            # many requests at once; per-query threads would only oversubscribe the cores.
            connection = connect_duckdb(path, self._settings, read_only=True, config={"threads": 1})
        except (OSError, ValueError, KeyError, duckdb.Error, EncryptionError) as exc:
            raise SnapshotOpenError(snapshot_id) from exc
        try:
            tables = _mart_tables(connection)
        except duckdb.Error as exc:
            connection.close()
            raise SnapshotOpenError(snapshot_id) from exc
        return _Entry(snapshot, path, connection, tables)

    def _acquire(self, snapshot_id: str) -> tuple[_Entry, duckdb.DuckDBPyConnection]:
        with self._lock:
            entry = self._entries.get(snapshot_id)
            if entry is None:
                entry = self._entries[snapshot_id] = self._open(snapshot_id)
            self._entries.move_to_end(snapshot_id)
            entry.leases += 1
            try:
                cursor = file_cursor(entry.connection, entry.path, self._settings)
            except BaseException:
                entry.leases -= 1
                raise
            self._evict()
            return entry, cursor

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            if entry.retired and entry.leases == 0:
                entry.connection.close()

    def _evict(self) -> None:
        # Oldest first; the entry just used is last, so the current snapshot is never evicted.
        while len(self._entries) > self._keep:
            _, entry = self._entries.popitem(last=False)
            entry.retired = True
            if entry.leases == 0:
                entry.connection.close()
