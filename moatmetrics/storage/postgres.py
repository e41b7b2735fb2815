"""The PostgreSQL back end (MOATMETRICS_WAREHOUSE_URL set): dbt builds there, snapshots are
schemas there.

`PostgresStorage` adds two steps to a run (`moatmetrics.warehouse.pg_mode`: `raw` copied to
PostgreSQL after ingest, what dbt built read back before the trust layer), publishes by
writing the snapshot file in a temporary folder and copying it into schema `snapshot_<id>`,
and keeps its catalog in the database (`moatmetrics.warehouse.pg_snapshots`).

`PostgresSnapshotReader` has the same contract as
`moatmetrics.storage.duckdb.DuckDBSnapshotReader`, different mechanics:

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

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from moatmetrics import snapshots
from moatmetrics.appdb.db import normalize_url
from moatmetrics.marts import PUBLISHED_MARTS
from moatmetrics.seam.base import (
    CopiedTable,
    NoSnapshotError,
    Snapshot,
    SnapshotError,
    SnapshotLease,
    SnapshotOpenError,
    Storage,
)
from moatmetrics.seam.dialect import POSTGRES
from moatmetrics.settings import Settings
from moatmetrics.warehouse import pg_mode, pg_snapshots
from moatmetrics.warehouse.pg_snapshots import current_snapshot_on
from moatmetrics.warehouse.postgres import (
    duckdb_type,
    postgres_columns,
    publish_snapshot_to_postgres,
    use_snapshot_in_postgres,
)

if TYPE_CHECKING:
    import duckdb


class PostgresStorage(Storage):
    """dbt's `postgres` target, and snapshots as schemas with a catalog in the database."""

    name = "postgres"
    keeps_dbt_views = False  # the next run's copy of `raw` drops the staging views (CASCADE)

    def __init__(self, settings: Settings) -> None:
        if not settings.warehouse_url:
            raise ValueError("PostgreSQL storage needs MOATMETRICS_WAREHOUSE_URL")
        super().__init__(settings)
        self.url: str = settings.warehouse_url

    def after_ingest(self, con: duckdb.DuckDBPyConnection) -> list[CopiedTable]:
        return pg_mode.push_raw(con, self.url)

    def after_dbt(self, con: duckdb.DuckDBPyConnection) -> list[CopiedTable]:
        return pg_mode.pull_dbt_outputs(con, self.url)

    def current_snapshot_id(self) -> str | None:
        snapshot = self.current_snapshot()
        return snapshot.snapshot_id if snapshot else None

    def current_snapshot(self) -> Snapshot | None:
        return pg_snapshots.current_snapshot(self.url)

    def load_snapshot(self, snapshot_id: str) -> Snapshot:
        return pg_snapshots.load_snapshot(self.url, snapshot_id)

    def list_snapshots(self) -> list[Snapshot]:
        return pg_snapshots.list_snapshots(self.url)

    def publish(
        self, marts: tuple[str, ...] = PUBLISHED_MARTS, *, patch_min_rows: int | None = None
    ) -> Snapshot:
        """Write the snapshot file whole in a temporary folder (there is no earlier file to
        patch), copy it into PostgreSQL and make it current; the file is discarded."""
        snapshot_id = snapshots.new_snapshot_id()
        with tempfile.TemporaryDirectory(prefix="moatmetrics-publish-") as work:
            snapshots.write_snapshot_file(self.settings, snapshot_id, Path(work), marts)
            try:
                publish_snapshot_to_postgres(
                    Path(work) / f"{snapshot_id}.duckdb", snapshot_id, self.url
                )
            except Exception as exc:  # psycopg.Error and friends; the message names no password
                raise SnapshotError(
                    f"could not publish snapshot {snapshot_id} into PostgreSQL: {exc}"
                ) from exc
        return self.load_snapshot(snapshot_id)

    def use_snapshot(self, snapshot_id: str) -> Snapshot:
        """Point the catalog's `is_current` and the `marts` views at an earlier snapshot."""
        unknown = snapshots.unknown_snapshot(snapshot_id)
        if not snapshots.SNAPSHOT_ID.match(snapshot_id):
            raise unknown
        try:
            use_snapshot_in_postgres(self.url, snapshot_id)
        except KeyError:
            raise unknown from None
        return self.load_snapshot(snapshot_id)

    def prune(self, keep: int, *, dry_run: bool = False) -> list[str]:
        return pg_snapshots.prune(self.url, keep, dry_run=dry_run)

    def snapshot_reader(self) -> PostgresSnapshotReader:
        return PostgresSnapshotReader(self.url)


class PostgresSnapshotReader:
    """Leases on `snapshot_<id>` schemas through a pool of read-only connections."""

    #: Connections kept open, and opened beyond them at busy times: one per lease held.
    POOL_SIZE = 4
    POOL_OVERFLOW = 12
    #: Of those, never leased: for what takes a connection briefly without a lease
    #: (`current_id` for /health and /snapshots, the mart catalog's own lease).
    UNLEASED = 2

    def __init__(self, url: str, keep: int = 4) -> None:
        self._url = url
        self._keep = keep
        self._engine: Engine = create_engine(
            normalize_url(url),
            pool_pre_ping=True,
            connect_args={"options": "-c default_transaction_read_only=on"},
            pool_size=self.POOL_SIZE,
            max_overflow=self.POOL_OVERFLOW,
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

    def max_leases(self) -> int:
        """The pool's connections but `UNLEASED`: a lease holds one until its request's
        handler is done. Were all of them leased, a worker thread waiting in `current_id` for
        a connection would wait on requests that wait for a thread, as leases did before
        `api.dependencies.lease_slots`."""
        return self.POOL_SIZE + self.POOL_OVERFLOW - self.UNLEASED

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
        self, snapshot_id: str, schema: str, connection: Any
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
