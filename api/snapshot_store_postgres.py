"""Snapshots served from PostgreSQL (MOATMETRICS_WAREHOUSE_URL set): the store of that mode.

Same contract as `api.snapshot_store.SnapshotStore`, different mechanics:

- The current snapshot is the catalog row `moatmetrics.snapshots` marked `is_current`, read
  on every request, so every worker on every host switches at the same publish.
- A lease pins the snapshot by its schema: queries name `snapshot_<id>.<mart>`, never the
  `marts` views, so a request that started on snapshot A finishes on A while a publish makes
  B current. Snapshot schemas are never changed after publishing and never dropped by the
  pipeline.
- Connections come from a pool and are read-only sessions (`default_transaction_read_only`),
  so no bug in a handler can change a published snapshot.
- A snapshot's column catalog is immutable and cached per snapshot id. Column types are
  reported with DuckDB's names (`DECIMAL(18,2)`, `VARCHAR`), so `/api/v1/marts` answers the
  same on both back ends.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from api.snapshot_lease import NoSnapshotError, SnapshotLease, SnapshotOpenError
from api.sql_dialect import POSTGRES
from moatmetrics.appdb.db import normalize_url
from moatmetrics.warehouse.pg_snapshots import current_snapshot_on
from moatmetrics.warehouse.postgres import duckdb_type, postgres_columns


class PostgresSnapshotStore:
    """Leases on `snapshot_<id>` schemas through a pool of read-only connections."""

    def __init__(self, url: str, keep: int = 4) -> None:
        self._url = url
        self._keep = keep
        self._engine: Engine = create_engine(
            normalize_url(url),
            pool_pre_ping=True,
            connect_args={"options": "-c default_transaction_read_only=on"},
            pool_size=4,
            max_overflow=12,
        )
        self._lock = threading.Lock()
        self._tables: OrderedDict[str, Mapping[str, Mapping[str, str]]] = OrderedDict()

    def current_id(self) -> str | None:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            snapshot = current_snapshot_on(cursor)
            cursor.close()
            return snapshot.snapshot_id if snapshot else None
        finally:
            connection.close()

    def leases_without_io(self) -> bool:
        """Never: every lease reads the catalog over a pooled connection."""
        return False

    @contextmanager
    def lease(self) -> Iterator[SnapshotLease]:
        """Pin the current snapshot's schema for one request (one pooled connection)."""
        try:
            connection = self._engine.raw_connection()
        except (SQLAlchemyError, psycopg.Error) as exc:  # database unreachable: 503, not 500
            raise SnapshotOpenError("current") from exc
        try:
            cursor = connection.cursor()
            try:
                try:
                    snapshot = current_snapshot_on(cursor)
                except psycopg.Error as exc:  # the catalog cannot be read: 503, not 500
                    raise SnapshotOpenError("current") from exc
                if snapshot is None or snapshot.schema is None:
                    raise NoSnapshotError
                tables = self._mart_tables(snapshot.snapshot_id, snapshot.schema, connection)
                yield SnapshotLease(snapshot, cursor, tables, snapshot.schema, POSTGRES)
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, rolled back

    def close(self) -> None:
        self._engine.dispose()

    def _mart_tables(
        self, snapshot_id: str, schema: str, connection
    ) -> Mapping[str, Mapping[str, str]]:
        with self._lock:
            cached = self._tables.get(snapshot_id)
        if cached is not None:
            return cached
        try:
            found = postgres_columns(connection.driver_connection, schema)
            tables = {
                table: {column: duckdb_type(pg_type) for column, pg_type in columns}
                for table, columns in found.items()
                if not table.startswith("meta_")
            }
        except Exception as exc:  # psycopg.Error, an unsupported type
            raise SnapshotOpenError(snapshot_id) from exc
        if not tables:  # the catalog names a schema that is gone (dropped by hand)
            raise SnapshotOpenError(snapshot_id)
        with self._lock:
            self._tables[snapshot_id] = tables
            while len(self._tables) > self._keep:
                self._tables.popitem(last=False)
        return tables
