"""What a pipeline run reads, fingerprinted, so that a run with nothing new ends before it starts.

A published snapshot is a function of five things, and of nothing else:

- ``uploads``: the uploads the warehouse holds and their status (its raw tables are rebuilt
  from them: the newest accepted upload's row per key, retracted uploads left out);
- ``corrections``: the analysts' active corrections, as the run copies them;
- ``reviews``: the review decisions made so far (the snapshot carries each flagged row's
  review status); the newest decision's id stands for all of them, as decisions are only
  ever added;
- ``settings``: the settings that reach the marts and the trust layer (reporting currency,
  review threshold, license suppliers, absence work types, the warehouse target);
- ``code``: this package's source, the dbt project and the versions of the libraries that
  compute numbers (a new release must rebuild).

The ingest step records the fingerprint of what it handed to dbt (`record_run_inputs`); the
publish step then records it beside the snapshot id (`record_published_inputs`). Before a
run starts, `unchanged_since_publish` asks whether anything would be new: a landing file the
warehouse has not seen, a retraction not yet applied, or any part that differs from the
current snapshot's. A part is read before the step that uses it (the review decisions before
the trust layer reads them), so a change made while a run is going is never counted as
published. Rows edited in the warehouse by hand are not seen: ``moatmetrics run --force``
rebuilds regardless.

The fingerprints themselves (code, settings, rows) are `moatmetrics.fingerprints`, shared with
the trust layer, the insights and the warehouse; this module sits above those, as the check
before a run opens the warehouse and reads the app database and the corrections.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from moatmetrics.canonical import digest
from moatmetrics.fingerprints import code_digest, settings_digest
from moatmetrics.settings import Settings

if TYPE_CHECKING:
    from moatmetrics.seam.base import Storage

RUN_INPUTS = "ingest.run_inputs"
PUBLISHED_INPUTS = "ingest.published_inputs"


@dataclass(frozen=True)
class Unchanged:
    """The current snapshot already holds what a run would build now."""

    snapshot_id: str

    def reason(self) -> str:
        return (
            f"nothing new since snapshot {self.snapshot_id}: no new file in the landing folder,"
            " and the same uploads, corrections, review decisions, settings and code; nothing"
            " to do (`moatmetrics run --force` rebuilds anyway)"
        )


def uploads_digest(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        "SELECT upload_id, status FROM ingest.uploads ORDER BY upload_seq, upload_id"
    ).fetchall()
    return digest(rows)


def reviews_digest(settings: Settings) -> str:
    """The newest review decision's id: decisions are only added, never edited."""
    from sqlalchemy import func, select

    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import ReviewDecision

    with session_scope(settings) as session:
        newest = session.scalar(select(func.max(ReviewDecision.id)))
    return digest(newest)


def run_inputs(
    con: duckdb.DuckDBPyConnection, settings: Settings, corrections: str
) -> dict[str, str]:
    """Every part's digest; `corrections` is `override_copy.corrections_digest` of the rows."""
    return {
        "code": code_digest(),
        "settings": settings_digest(settings),
        "uploads": uploads_digest(con),
        "corrections": corrections,
        "reviews": reviews_digest(settings),
    }


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {RUN_INPUTS} (parts VARCHAR, recorded_at TIMESTAMPTZ)")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PUBLISHED_INPUTS}"
        " (snapshot_id VARCHAR PRIMARY KEY, parts VARCHAR, published_at TIMESTAMPTZ)"
    )


def record_run_inputs(con: duckdb.DuckDBPyConnection, parts: dict[str, str]) -> None:
    """The ingest step: what the warehouse now holds for dbt (one row, replaced each run)."""
    _ensure_tables(con)
    con.execute(f"DELETE FROM {RUN_INPUTS}")
    con.execute(f"INSERT INTO {RUN_INPUTS} VALUES (?, now())", [json.dumps(parts, sort_keys=True)])


def record_published_inputs(con: duckdb.DuckDBPyConnection, snapshot_id: str) -> bool:
    """The publish step: the snapshot was built from the inputs the ingest step recorded.

    Returns False when no ingest step recorded any (a warehouse from before this table).
    """
    _ensure_tables(con)
    row = con.execute(f"SELECT parts FROM {RUN_INPUTS}").fetchone()
    if row is None:
        return False
    con.execute(
        f"INSERT OR REPLACE INTO {PUBLISHED_INPUTS} VALUES (?, ?, now())", [snapshot_id, row[0]]
    )
    return True


def _published_parts(con: duckdb.DuckDBPyConnection, snapshot_id: str) -> dict[str, str] | None:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables()"
        " WHERE schema_name = 'ingest' AND table_name = 'published_inputs'"
    ).fetchone()
    if not found or not found[0]:
        return None
    row = con.execute(
        f"SELECT parts FROM {PUBLISHED_INPUTS} WHERE snapshot_id = ?", [snapshot_id]
    ).fetchone()
    return json.loads(row[0]) if row else None


def _retraction_pending(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.uploads import retracted_uploads

    with session_scope(settings) as session:
        retracted = sorted(retracted_uploads(session))
    if not retracted:
        return False
    placeholders = ", ".join("?" * len(retracted))
    still = con.execute(
        f"SELECT count(*) FROM ingest.uploads WHERE status = 'accepted'"
        f" AND upload_id IN ({placeholders})",
        retracted,
    ).fetchone()
    return bool(still and still[0])


def unchanged_since_publish(storage: Storage, wait_s: float = 600.0) -> Unchanged | None:
    """`Unchanged` when the current snapshot was built from exactly what a run would read now.

    Any doubt (no snapshot, a warehouse without the record, a file or retraction waiting, a
    part that differs, a warehouse another process has held for over `wait_s`, or that cannot
    be opened) answers None: run.
    """
    from moatmetrics.contract.landing import new_landing_files
    from moatmetrics.ingest.override_copy import active_override_rows, corrections_digest
    from moatmetrics.run_lock import WarehouseLockTimeout
    from moatmetrics.warehouse.connection import warehouse_connection

    settings = storage.settings
    snapshot_id = storage.current_snapshot_id()
    if snapshot_id is None or not settings.warehouse_path.exists():
        return None
    try:
        with warehouse_connection(settings, wait_s=wait_s) as con:
            published = _published_parts(con, snapshot_id)
            if published is None:
                return None
            if new_landing_files(con, settings) or _retraction_pending(con, settings):
                return None
            corrections = corrections_digest(active_override_rows(settings))
            now = run_inputs(con, settings, corrections)
    except (duckdb.Error, WarehouseLockTimeout):
        return None
    return Unchanged(snapshot_id) if now == published else None
