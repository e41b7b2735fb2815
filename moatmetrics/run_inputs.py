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
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from moatmetrics.canonical import digest as digest  # re-exported: the fingerprints below
from moatmetrics.settings import DBT_PROJECT_DIR, Settings

if TYPE_CHECKING:
    from moatmetrics.seam.base import Storage

RUN_INPUTS = "ingest.run_inputs"
PUBLISHED_INPUTS = "ingest.published_inputs"
#: Environment variables dbt's macros read (`dbt_project/macros/`): they change the marts.
MART_ENVIRONMENT = ("MOATMETRICS_LICENSE_SUPPLIERS", "MOATMETRICS_ABSENCE_WORK_TYPES")
#: Libraries whose release can change a number, a score or an explanation.
COMPUTING_LIBRARIES = ("duckdb", "dbt-core", "dbt-duckdb", "dbt-postgres", "scikit-learn", "shap")
_SOURCE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".json"}
_PACKAGE_DIRS = ("moatmetrics", "orchestration")
_DBT_OUTPUT_DIRS = ("target", "logs", "dbt_packages")


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


@cache
def code_digest() -> str:
    """This installation's source (package, orchestration, dbt project) and library versions.

    Computed once per process: a few hundred small files, read in milliseconds.
    """
    sha = hashlib.sha256(source_digest(Path(__file__).resolve().parents[1]).encode())
    for library in COMPUTING_LIBRARIES:
        try:
            sha.update(f"{library}={metadata.version(library)}\0".encode())
        except metadata.PackageNotFoundError:
            sha.update(f"{library}=absent\0".encode())
    return sha.hexdigest()


def source_digest(package_root: Path) -> str:
    """SHA-256 of the source files (code, dbt project, suites, profiles) by their names.

    Files are named and ordered relative to the folder holding the packages, so a copy
    installed elsewhere (another checkout, site-packages, a temporary folder) fingerprints
    the same. In the checkout the dbt project and the suites are links to its top level
    (pyproject.toml), followed here as the wheel's copies are read. What dbt writes into its
    project (target/, logs/) is output, not code.
    """
    dbt_project = package_root / DBT_PROJECT_DIR.relative_to(DBT_PROJECT_DIR.parents[1])
    dbt_output = [dbt_project / folder for folder in _DBT_OUTPUT_DIRS]
    named: dict[str, Path] = {}
    for folder in _PACKAGE_DIRS:
        for directory, subdirectories, files in os.walk(package_root / folder, followlinks=True):
            here = Path(directory)
            subdirectories[:] = [d for d in subdirectories if here / d not in dbt_output]
            for name in files:
                path = here / name
                if path.suffix in _SOURCE_SUFFIXES:
                    named[path.relative_to(package_root).as_posix()] = path
    sha = hashlib.sha256()
    for name in sorted(named):
        sha.update(name.encode() + b"\0" + named[name].read_bytes() + b"\0")
    return sha.hexdigest()


def settings_digest(settings: Settings) -> str:
    """The settings that reach the marts; secrets and paths are not part of it."""
    target = "postgres" if settings.warehouse_url else "duckdb"
    if settings.encryption_key_file is not None and not settings.warehouse_url:
        target = "duckdb_encrypted"
    return digest(
        {
            "reporting_currency": settings.reporting_currency,
            "review_threshold": settings.review_threshold,
            "target": target,
            **{name: os.environ.get(name) for name in MART_ENVIRONMENT},
        }
    )


def rows_fingerprint(con: duckdb.DuckDBPyConnection, select: str) -> str:
    """The rows `select` returns, fingerprinted in DuckDB: their count and the sum of each
    row's hash (order does not matter; any changed, added or removed row changes it)."""
    row = con.execute(
        f"SELECT count(*), CAST(sum(CAST(hash(t) AS HUGEINT)) AS VARCHAR) FROM ({select}) AS t"
    ).fetchone()
    assert row is not None  # an aggregate always has its row
    count, total = row
    return f"{count}:{total}"


def recorded_inputs(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any] | None:
    """The record `record_inputs` wrote in `table`, None when there is none (a first run, or a
    warehouse of an earlier release)."""
    try:
        cursor = con.execute(f"SELECT * FROM {table}")
    except duckdb.CatalogException:
        return None
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def record_inputs(con: duckdb.DuckDBPyConnection, table: str, record: dict[str, Any]) -> None:
    """Replace `table` with one row: what a result kept in the warehouse was computed from (a
    fingerprint of its inputs, and what the run's summary needs when the result is kept).

    Call it in the transaction that writes the result, so the two never disagree."""
    columns = ", ".join(f'? AS "{name}"' for name in record)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {columns}", list(record.values()))


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
