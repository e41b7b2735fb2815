"""The snapshot catalog of PostgreSQL mode: which snapshot schemas exist, which one is current.

In PostgreSQL mode (`MOATMETRICS_WAREHOUSE_URL`) the pointer to the served snapshot lives in
the database, not in a file, so API workers on any host agree on it: table
`moatmetrics.snapshots` has one row per published `snapshot_<id>` schema, and exactly one of
them is `is_current` (a partial unique index says so). The row is written by
`publish_snapshot_to_postgres` in the transaction that creates the schema and switches the
`marts` views, so the catalog, the views and the schema never disagree.

Reads go through one pooled SQLAlchemy engine per URL and process (the API asks per request).
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import TYPE_CHECKING, Any

from moatmetrics.seam.base import Snapshot

if TYPE_CHECKING:
    from sqlalchemy import Engine


CATALOG_SCHEMA = "moatmetrics"


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+psycopg://...) as libpq expects it."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


CATALOG_TABLE = f"{CATALOG_SCHEMA}.snapshots"
_COLUMNS = "snapshot_id, snapshot_schema, created_at, row_counts, upload_ids"

_engines: dict[tuple[str, int], Engine] = {}
_lock = threading.Lock()


def register_snapshot(
    pg: Any,  # psycopg.Connection inside the publishing transaction
    snapshot_id: str,
    schema: str,
    manifest: tuple[str, list[str]],
    row_counts: dict[str, int],
) -> None:
    """Record a published schema and make it the current one (caller commits)."""
    created_at, upload_ids = manifest
    pg.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG_SCHEMA}")
    pg.execute(
        f"CREATE TABLE IF NOT EXISTS {CATALOG_TABLE} ("
        " snapshot_id text PRIMARY KEY, snapshot_schema text NOT NULL,"
        " created_at text NOT NULL, row_counts text NOT NULL, upload_ids text NOT NULL,"
        " published_at timestamptz NOT NULL DEFAULT now(),"
        " is_current boolean NOT NULL DEFAULT false)"
    )
    pg.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS snapshots_one_current ON {CATALOG_TABLE}"
        " (is_current) WHERE is_current"
    )
    # Publishers serialise here, so two publishes never both end up current.
    pg.execute(f"LOCK TABLE {CATALOG_TABLE} IN EXCLUSIVE MODE")
    pg.execute(f"UPDATE {CATALOG_TABLE} SET is_current = false WHERE is_current")
    pg.execute(
        f"INSERT INTO {CATALOG_TABLE} ({_COLUMNS}, is_current) VALUES (%s, %s, %s, %s, %s, true)"
        " ON CONFLICT (snapshot_id) DO UPDATE SET snapshot_schema = excluded.snapshot_schema,"
        " created_at = excluded.created_at, row_counts = excluded.row_counts,"
        " upload_ids = excluded.upload_ids, published_at = now(), is_current = true",
        [snapshot_id, schema, created_at, json.dumps(row_counts), json.dumps(upload_ids)],
    )


def engine(url: str) -> Engine:
    """A pooled engine for the warehouse URL (one per process: engines must not cross a fork)."""
    from sqlalchemy import create_engine

    from moatmetrics.appdb.db import normalize_url

    key = (url, os.getpid())
    with _lock:
        if key not in _engines:
            # Catalog reads are short and rare (CLI, /snapshots, /metrics): a small pool.
            _engines[key] = create_engine(
                normalize_url(url), pool_pre_ping=True, pool_size=2, max_overflow=4
            )
        return _engines[key]


def dispose_engines() -> None:
    """Close this process's pooled catalog connections (tests done with a database)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _snapshot(row: Any) -> Snapshot:

    snapshot_id, schema, created_at, row_counts, upload_ids = row
    return Snapshot(
        snapshot_id=snapshot_id,
        path=None,
        created_at=created_at,
        row_counts=json.loads(row_counts),
        upload_ids=json.loads(upload_ids),
        schema=schema,
    )


def _query(url: str, where: str, params: dict[str, Any] | None = None) -> list[Snapshot]:
    from sqlalchemy import text

    with engine(url).connect() as connection:
        exists = connection.execute(text("SELECT to_regclass(:t)"), {"t": CATALOG_TABLE})
        if exists.scalar() is None:  # nothing was ever published into this database
            return []
        rows = connection.execute(
            text(f"SELECT {_COLUMNS} FROM {CATALOG_TABLE} {where} ORDER BY snapshot_id"),
            params or {},
        )
        return [_snapshot(row) for row in rows]


def current_snapshot(url: str) -> Snapshot | None:
    found = _query(url, "WHERE is_current")
    return found[0] if found else None


def current_snapshot_on(cursor: Any) -> Snapshot | None:
    """The current snapshot, read with a DB-API cursor the caller already holds (the API's
    lease reads the catalog and the marts on one pooled connection)."""
    cursor.execute("SELECT to_regclass(%s)", [CATALOG_TABLE])
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute(f"SELECT {_COLUMNS} FROM {CATALOG_TABLE} WHERE is_current")
    row = cursor.fetchone()
    return _snapshot(row) if row else None


def load_snapshot(url: str, snapshot_id: str) -> Snapshot:
    found = _query(url, "WHERE snapshot_id = :id", {"id": snapshot_id})
    if not found:
        raise KeyError(f"no snapshot {snapshot_id!r} in the PostgreSQL catalog")
    return found[0]


def list_snapshots(url: str) -> list[Snapshot]:
    """Every snapshot published into this database, oldest first."""
    return _query(url, "")


def prune(url: str, keep: int, *, dry_run: bool = False) -> list[str]:
    """Drop every snapshot schema but the newest `keep` and the current one (one transaction);
    `dry_run` only says which.

    The catalog lock serialises this with publishers; dropping a schema waits for queries that
    read it, at most `lock_timeout` (one minute), after which nothing has been dropped.
    """
    import psycopg
    from psycopg import sql

    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}: the current snapshot stays")

    with psycopg.connect(libpq_url(url)) as pg:
        if pg.execute("SELECT to_regclass(%s)", [CATALOG_TABLE]).fetchone()[0] is None:
            return []
        pg.execute("SET LOCAL lock_timeout = '60s'")
        pg.execute(f"LOCK TABLE {CATALOG_TABLE} IN EXCLUSIVE MODE")
        rows = pg.execute(
            f"SELECT snapshot_id, snapshot_schema, is_current FROM {CATALOG_TABLE}"
            " ORDER BY snapshot_id"
        ).fetchall()
        removed = [(snapshot_id, schema) for snapshot_id, schema, current in rows[:-keep]
                   if not current]  # fmt: skip
        if dry_run:
            pg.rollback()
            return [snapshot_id for snapshot_id, _ in removed]
        for snapshot_id, schema in removed:
            pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            pg.execute(f"DELETE FROM {CATALOG_TABLE} WHERE snapshot_id = %s", [snapshot_id])
        pg.commit()
    return [snapshot_id for snapshot_id, _ in removed]
