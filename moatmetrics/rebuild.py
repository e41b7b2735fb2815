"""The warehouse as it was at a moment: `moatmetrics rebuild --as-of TIMESTAMP` (its first half).

A snapshot is a result; the warehouse keeps what made it: every accepted upload's typed rows
stay in ``ingest.<entity>_rows`` with their upload, retracted ones included (marked, not
deleted), and the app database keeps every correction with when it was made and reverted. So
the inputs of any moment can be put back exactly, without reading a file again (which would
need the options it was read with, and the original of a pseudonymised export):

- uploads ingested after the moment are left out;
- uploads retracted after it count again;
- corrections made after it are left out, and those reverted after it count again.

This is done in a scratch home beside the real one (a copy of the warehouse and of the app
database, under the writer lock), where an ordinary pipeline run then builds, scores and
publishes (`orchestration.rebuild`); the real home only receives the finished snapshot. Review
decisions are not wound back: a rebuilt row shows the review status of today.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from moatmetrics.at_rest.duckdb_files import connect_duckdb
from moatmetrics.backup import back_up_sqlite_file, sqlite_file
from moatmetrics.contract.entities import ENTITIES
from moatmetrics.ingest.loader import rebuild_raw_table
from moatmetrics.run_lock import warehouse_lock
from moatmetrics.settings import Settings, ensure_home


class RebuildError(Exception):
    """A rebuild that cannot be done, with what to do about it."""


def parse_moment(text: str) -> datetime:
    """An ISO date-time (`2026-11-30T18:00`, with or without an offset; without one it is
    UTC) or a date (the end of that day, UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RebuildError(
            f"--as-of {text!r} is not an ISO date or date-time, e.g. 2026-11-30T18:00:00+00:00"
        ) from None
    if len(text.strip()) == 10:  # a date: the whole day
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wind_back_warehouse(path: Path, as_of: datetime, settings: Settings) -> int:
    """Leave out what was ingested after `as_of`, count again what was retracted after it,
    and rebuild raw; returns the uploads that remain."""
    with connect_duckdb(path, settings) as con:
        later = "SELECT upload_id FROM ingest.uploads WHERE uploaded_at > ?"
        for name in ENTITIES:
            con.execute(f"DELETE FROM ingest.{name}_rows WHERE _upload_id IN ({later})", [as_of])
        con.execute(f"DELETE FROM ingest.rejected_rows WHERE upload_id IN ({later})", [as_of])
        has_sources = con.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'ingest' AND table_name = 'upload_sources'"
        ).fetchone()
        if has_sources and has_sources[0]:
            con.execute(f"DELETE FROM ingest.upload_sources WHERE upload_id IN ({later})", [as_of])
        con.execute("DELETE FROM ingest.uploads WHERE uploaded_at > ?", [as_of])
        con.execute(
            "UPDATE ingest.uploads SET status = 'accepted', retracted_at = NULL,"
            " retracted_by = NULL, retract_reason = NULL"
            " WHERE status = 'retracted' AND retracted_at > ?",
            [as_of],
        )
        for entity in ENTITIES.values():
            rebuild_raw_table(con, entity)
        remaining = con.execute(
            "SELECT count(*) FROM ingest.uploads WHERE status = 'accepted'"
        ).fetchone()
    return int(remaining[0]) if remaining else 0


def _wind_back_app_database(settings: Settings, as_of: datetime) -> None:
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import RowOverride, Upload

    with session_scope(settings, write=True) as session:
        session.execute(
            update(Upload)
            .where(Upload.status == "retracted", Upload.retracted_at > as_of)
            .values(status="accepted", retracted_at=None, retracted_by=None, retract_reason=None)
        )
        session.query(RowOverride).filter(RowOverride.created_at > as_of).delete()
        session.execute(
            update(RowOverride)
            .where(RowOverride.reverted_at > as_of)
            .values(reverted_at=None, reverted_by=None)
        )


def scratch_home_as_of(settings: Settings, as_of: datetime) -> Settings:
    """A scratch home (inside the real one, hidden) holding the inputs as they were at
    `as_of`; the caller runs the pipeline there and removes it (`remove_scratch_home`)."""
    if settings.warehouse_url:
        raise RebuildError(
            "rebuild --as-of works on the embedded DuckDB warehouse; in PostgreSQL mode restore"
            " the database to that moment (PostgreSQL point-in-time recovery) instead"
        )
    app_db = sqlite_file(settings.app_database_url)
    if app_db is None:
        raise RebuildError(
            "rebuild --as-of needs the app database in SQLite (the default); with"
            " MOATMETRICS_DATABASE_URL on PostgreSQL, restore that database to the moment"
        )
    if not settings.warehouse_path.exists():
        raise RebuildError(f"{settings.warehouse_path} does not exist: nothing was ingested yet")
    if as_of > datetime.now(UTC):
        raise RebuildError(f"--as-of {as_of.isoformat()} is in the future")
    scratch_dir = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=settings.home))
    scratch = replace(settings, home=scratch_dir)
    try:
        ensure_home(scratch)
        with warehouse_lock(settings):  # no run writes while the inputs are copied
            shutil.copyfile(settings.warehouse_path, scratch.warehouse_path)
            if app_db.exists():
                back_up_sqlite_file(app_db, scratch_dir / "app.db")
        remaining = _wind_back_warehouse(scratch.warehouse_path, as_of, scratch)
        if remaining == 0:
            raise RebuildError(
                f"no upload had been ingested by {as_of.isoformat()}: nothing to rebuild"
            )
        scratch = replace(scratch, database_url=f"sqlite:///{scratch_dir / 'app.db'}")
        _wind_back_app_database(scratch, as_of)
    except BaseException:
        remove_scratch_home(scratch)
        raise
    return scratch


def remove_scratch_home(scratch: Settings) -> None:
    from moatmetrics.appdb.db import dispose_engines

    dispose_engines()
    shutil.rmtree(scratch.home, ignore_errors=True)
