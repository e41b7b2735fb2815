"""Ingest one export file: archive it, read it, type it, keep good rows, report bad ones.

Loading semantics (data contract): uploads accumulate and are immutable; a byte-identical
re-upload changes nothing; rows are keyed by the entity's natural key and a newer upload
replaces older rows with the same key; nothing is silently dropped (every row is loaded or in
``ingest.rejected_rows``); a file with a structural error or more than the configured share of
rejected rows is rejected whole.

Replace, not append: every accepted upload of a dated entity has a *scope* — its source (the
profile that read it, or ``canonical``) and the range of its dates. A newer upload of the same
source and entity replaces every older row of that source whose date falls in its range, so
a corrected export of a period replaces the first one even when the rows' ids are derived from
their content (exports without ids) and so differ. A retracted upload's rows leave raw.

A file that cannot be read at all (over the size limit, not a readable CSV/XLSX/JSON, past a
reader's bounds, or failing in a way nobody foresaw) is rejected as ``unreadable``: whatever
went wrong is caught here and becomes the file's reason, so one bad file never stops the others
(the landing scan then quarantines it, see ``moatmetrics.ingest.quarantine``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from moatmetrics.at_rest.encryption import archive_file
from moatmetrics.contract.entities import ENTITIES, SQL_TYPES, Column, Entity, entity_for_file_stem
from moatmetrics.contract.landing import sha256_of
from moatmetrics.contract.readers import SourceTable, StructuralError, file_format, read_source
from moatmetrics.contract.validation import (
    ColumnSource,
    ValidationContext,
    parsed_select,
    typed_select,
)
from moatmetrics.formulas import neutralise_sql
from moatmetrics.ingest.override_copy import ensure_table as ensure_row_overrides_table
from moatmetrics.ingest.scopes import (
    CANONICAL_SOURCE,
    MONTHLY_SCOPES,
    RETRACTED,
    SCOPE_DATES,
)
from moatmetrics.quality.gate import collect_problems, quality_summary
from moatmetrics.quality.suites import SuiteError
from moatmetrics.settings import Settings
from moatmetrics.sources.engine import SourceOptions, detect_vendor_file

PROBLEM_SAMPLE = 20

#: Columns added to ``ingest.uploads`` since it was first made (old warehouses get them).
UPLOAD_SCOPE_COLUMNS = (
    ("scope_source", "VARCHAR"),
    ("scope_start", "DATE"),
    ("scope_end", "DATE"),
    ("scope_replaces", "BOOLEAN"),
    ("retracted_at", "TIMESTAMPTZ"),
    ("retracted_by", "VARCHAR"),
    ("retract_reason", "VARCHAR"),
)


UPLOAD_COLUMNS = (
    "upload_id, upload_seq, sha256, file_name, entity, format, size_bytes, row_count,"
    " rows_loaded, rows_rejected, warnings, status, message, uploaded_by, uploaded_at,"
    " upload_date, archived_path, scope_source, scope_start, scope_end, scope_replaces"
)


@dataclass
class UploadResult:
    """What happened to one file, as shown to the user."""

    file_name: str
    entity: str | None
    status: str  # accepted | rejected | unchanged
    upload_id: str | None = None
    row_count: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    message: str = ""
    notes: list[str] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    report_path: str | None = None
    quality_score: float | None = None
    recommendations: list[str] = field(default_factory=list)
    expectations: list[dict] = field(default_factory=list)
    validation_seconds: float = 0.0
    unreadable: bool = False  # rejected before any row could be read: quarantined if landed
    quarantined_to: str | None = None
    profile: str | None = None  # the source profile of a vendor file (docs/sources.md)
    rows_skipped: int = 0  # a vendor file's group and subtotal rows, counted, not rejected
    # What an accepted upload replaces (module docstring): source, and its dates' range
    scope_source: str | None = None
    scope_start: date | None = None
    scope_end: date | None = None
    # Whether the scope replaces older rows by date (vendor files, rows without ids, a
    # declared period) or only by key (canonical files with their own ids: `_set_scope`)
    scope_replaces: bool = False
    ids_derived: bool = False  # the file had no id column: ids made from the rows' content

    @property
    def ok(self) -> bool:
        return self.status in ("accepted", "unchanged")


def ensure_ingest_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ingest bookkeeping tables and empty raw tables (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS ingest")
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        """CREATE TABLE IF NOT EXISTS ingest.uploads (
            upload_id VARCHAR PRIMARY KEY, upload_seq BIGINT NOT NULL, sha256 VARCHAR NOT NULL,
            file_name VARCHAR NOT NULL, entity VARCHAR, format VARCHAR, size_bytes BIGINT,
            row_count BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, warnings BIGINT,
            status VARCHAR NOT NULL, message VARCHAR, uploaded_by VARCHAR,
            uploaded_at TIMESTAMPTZ NOT NULL, upload_date DATE NOT NULL, archived_path VARCHAR
        )"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS ingest.rejected_rows (
            upload_id VARCHAR NOT NULL, file_name VARCHAR NOT NULL, sheet VARCHAR,
            row_number BIGINT, column_name VARCHAR, value VARCHAR, rule VARCHAR NOT NULL,
            fix VARCHAR, severity VARCHAR NOT NULL
        )"""
    )
    for name, sql_type in UPLOAD_SCOPE_COLUMNS:  # a warehouse from before upload scopes
        con.execute(f"ALTER TABLE ingest.uploads ADD COLUMN IF NOT EXISTS {name} {sql_type}")
    _backfill_scopes(con)
    for entity in ENTITIES.values():
        columns = ", ".join(f"{c.name} {SQL_TYPES[c.type]}" for c in entity.columns)
        con.execute(
            f"CREATE TABLE IF NOT EXISTS ingest.{entity.name}_rows ({columns},"
            " _upload_id VARCHAR, _upload_seq BIGINT, _row_number BIGINT)"
        )
        for c in entity.columns:  # columns added to the contract since the table was made
            con.execute(
                f"ALTER TABLE ingest.{entity.name}_rows ADD COLUMN IF NOT EXISTS"
                f" {c.name} {SQL_TYPES[c.type]}"
            )
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'raw' AND table_name = ?",
            [entity.name],
        ).fetchone()[0]
        if not exists:
            rebuild_raw_table(con, entity)
        else:  # a warehouse from before a contract column: dbt reads every column
            for c in entity.columns:
                con.execute(
                    f"ALTER TABLE raw.{entity.name} ADD COLUMN IF NOT EXISTS"
                    f" {c.name} {SQL_TYPES[c.type]}"
                )
    ensure_row_overrides_table(con)  # analysts' corrections, read by dbt
    con.execute(f"CREATE TABLE IF NOT EXISTS {_ROW_WARNINGS}")  # refreshed by each ingest step


def _scope_bounds(entity_name: str, rows: str) -> str:
    """SELECT of (start, end) of the dates in `rows`: whole months for monthly entities."""
    column = SCOPE_DATES[entity_name]
    if entity_name in MONTHLY_SCOPES:
        return (
            f"SELECT CAST(date_trunc('month', min({column})) AS DATE),"
            f" last_day(max({column})) FROM {rows}"
        )
    return f"SELECT min({column}), max({column}) FROM {rows}"


def _backfill_scopes(con: duckdb.DuckDBPyConnection) -> None:
    """Give the accepted uploads of a warehouse from before upload scopes their scope, from
    the rows they loaded (once: afterwards every accepted upload has its source)."""
    missing = con.execute(
        "SELECT upload_id, entity FROM ingest.uploads"
        " WHERE status = 'accepted' AND scope_source IS NULL AND entity IS NOT NULL"
    ).fetchall()
    if not missing:
        return
    profiles = "ingest.upload_sources"
    has_profiles = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_schema = 'ingest' AND table_name = 'upload_sources'"
    ).fetchone()[0]
    for upload_id, entity_name in missing:
        source = None
        if has_profiles:
            found = con.execute(
                f"SELECT profile FROM {profiles} WHERE upload_id = ?", [upload_id]
            ).fetchone()
            source = found[0] if found else None
        start = end = None
        rows = f"ingest.{entity_name}_rows"
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'ingest' AND table_name = ?",
            [f"{entity_name}_rows"],
        ).fetchone()[0]
        if entity_name in SCOPE_DATES and exists:
            start, end = con.execute(
                _scope_bounds(entity_name, f"{rows} WHERE _upload_id = ?"), [upload_id]
            ).fetchone()
        con.execute(
            "UPDATE ingest.uploads SET scope_source = ?, scope_start = ?, scope_end = ?,"
            " scope_replaces = ? WHERE upload_id = ?",
            [source or CANONICAL_SOURCE, start, end, source is not None, upload_id],
        )


#: raw.row_warnings: every (upload, row) a data-quality warning was recorded on.
_ROW_WARNINGS = (
    "raw.row_warnings AS SELECT DISTINCT upload_id, row_number FROM ingest.rejected_rows"
    " WHERE severity = 'warning' AND row_number IS NOT NULL ORDER BY ALL"
)


def refresh_row_warnings(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild raw.row_warnings; returns its row count.

    The rows were accepted, so they are in raw, but with less trust: dbt's evidence models
    count them per mart row (the data-quality factor, docs/trust.md). A table of the raw
    layer, not a read of ``ingest.rejected_rows``, so that it reaches PostgreSQL with the
    rest of raw in PostgreSQL mode; rebuilt by every ingest step, before dbt reads it
    (`ensure_ingest_schema` only creates it where it is missing).
    """
    con.execute(f"CREATE OR REPLACE TABLE {_ROW_WARNINGS}")
    return int(con.execute("SELECT count(*) FROM raw.row_warnings").fetchall()[0][0])


def rebuild_raw_table(con: duckdb.DuckDBPyConnection, entity: Entity) -> int:
    """raw.<entity>: for every natural key, the row of the newest upload.

    Before that, for a dated entity, a row is dropped when a newer accepted upload of the same
    source covers its date (the upload scope, module docstring): one anti join of the rows
    with the (older upload, newer range) pairs, in SQL, however many rows. Only rows of
    accepted uploads count: a retracted upload's rows stay in ``ingest.<entity>_rows`` (so a
    rebuild as of an earlier moment can count them again, `moatmetrics rebuild --as-of`) but
    never reach raw.

    An accepted upload never holds a key twice (repeated and conflicting keys are rejected
    rows), so while all rows come from one upload — every first import — each key already
    has one row and both steps are skipped (a third of the ingest time of a million-row file).
    """
    columns = ", ".join(entity.column_names)
    rows = f"ingest.{entity.name}_rows"
    accepted = (
        "(SELECT upload_id FROM ingest.uploads"
        f" WHERE entity = '{entity.name}' AND status = 'accepted')"
    )
    present, uploads = con.execute(
        f"SELECT count(DISTINCT _upload_id),"
        f" count(DISTINCT _upload_id) FILTER (_upload_id IN {accepted}) FROM {rows}"
    ).fetchone()
    if present != uploads:  # rows of retracted uploads: kept in ingest, left out here
        rows = f"(SELECT * FROM {rows} WHERE _upload_id IN {accepted})"
    newest = (
        ""
        if uploads <= 1
        else f" QUALIFY row_number() OVER (PARTITION BY {', '.join(entity.key)}"
        " ORDER BY _upload_seq DESC, _row_number DESC) = 1"
    )
    source = rows
    if uploads > 1 and entity.name in SCOPE_DATES:
        # Pairs: an older upload and the range of each newer one of the same source.
        superseded = (
            "SELECT older.upload_id, newer.scope_start, newer.scope_end"
            " FROM ingest.uploads AS older JOIN ingest.uploads AS newer"
            " ON newer.entity = older.entity AND newer.scope_source = older.scope_source"
            " AND newer.upload_seq > older.upload_seq"
            f" WHERE older.entity = '{entity.name}' AND older.status = 'accepted'"
            " AND newer.status = 'accepted' AND newer.scope_start IS NOT NULL"
            " AND newer.scope_replaces"
        )
        source = (
            f"(SELECT * FROM {rows} AS r ANTI JOIN ({superseded}) AS s"
            f" ON r._upload_id = s.upload_id"
            f" AND r.{SCOPE_DATES[entity.name]} BETWEEN s.scope_start AND s.scope_end)"
        )
    con.execute(
        f"CREATE OR REPLACE TABLE raw.{entity.name} AS"
        f" SELECT {columns}, _upload_id, _row_number FROM {source}{newest}"
        f" ORDER BY {', '.join(entity.key)}"
    )
    return con.execute(f"SELECT count(*) FROM raw.{entity.name}").fetchone()[0]


def add_upload_to_raw_table(con: duckdb.DuckDBPyConnection, entity: Entity, upload_id: str) -> None:
    """raw.<entity> after one more accepted upload that replaces older rows by key only.

    The same table `rebuild_raw_table` would make, without reading every row again: the new
    upload is the newest, so its row wins for each of its keys and every other key keeps the
    row it had; the rows an upload replaces by date (`scope_replaces`) can bring an older row
    of a key back, so such an upload rebuilds instead. A daily export into a 10-million-row
    table touches only its own keys (10m demo: 15 s a day's upload to about 1 s).
    """
    columns = ", ".join(entity.column_names)
    keys = ", ".join(f"{expression} AS _k{i}" for i, expression in enumerate(entity.key))
    match = " AND ".join(f"o._k{i} IS NOT DISTINCT FROM n._k{i}" for i in range(len(entity.key)))
    rows = f"ingest.{entity.name}_rows"
    held = con.execute(f"SELECT count(*) FROM raw.{entity.name}").fetchone()
    if held and held[0]:  # a first import replaces nothing (its keys took 1.1 s at 10m)
        con.execute(
            f"DELETE FROM raw.{entity.name} WHERE rowid IN (SELECT o._rid FROM"
            f" (SELECT rowid AS _rid, {keys} FROM raw.{entity.name}) AS o SEMI JOIN"
            f" (SELECT DISTINCT {keys} FROM {rows} WHERE _upload_id = $upload) AS n"
            f" ON {match})",
            {"upload": upload_id},
        )
    con.execute(
        f"INSERT INTO raw.{entity.name} SELECT {columns}, _upload_id, _row_number FROM {rows}"
        f" WHERE _upload_id = $upload ORDER BY {', '.join(entity.key)}",
        {"upload": upload_id},
    )


def _resolve_sources(
    entity: Entity, source: SourceTable
) -> tuple[list[ColumnSource], list[str], dict[str, str]]:
    """Match file headers to contract columns; return sources, notes and derived columns."""
    present = set(source.columns)
    used: set[str] = set()
    sources: list[ColumnSource] = []
    for col in entity.columns:
        match = next((n for n in (col.name, *col.aliases) if n in present and n not in used), None)
        if match:
            used.add(match)
        sources.append(ColumnSource(col, source.columns[match] if match else None))
    by_name = {s.column.name: s for s in sources}
    derived: dict[str, str] = {}
    if entity.name == "clients" and by_name["client_id"].source is None:
        derived["client_id"] = "client_name"  # MoatMetrics 1.x: the name is the id
    if entity.name == "clients" and by_name["status"].source is None and "is_active" in present:
        # MoatMetrics 1.x: is_active (bool) maps to active / inactive.
        used.add("is_active")
        sources.append(ColumnSource(Column("is_active", "bool"), source.columns["is_active"]))
        derived["status"] = (
            "coalesce(CASE is_active WHEN TRUE THEN 'active' WHEN FALSE THEN 'inactive' END,"
            " 'active')"
        )
    if entity.name == "time_entries" and by_name["entry_id"].source is None:
        content = " || '|' || ".join(
            f"coalesce({c}__raw, '')" for c in entity.column_names if c != "entry_id"
        )
        derived["entry_id"] = (
            f"'te-' || left(md5({content}), 16) || '-' || "
            f"row_number() OVER (PARTITION BY {content} ORDER BY _row_number)"
        )
    if entity.name == "invoices" and by_name["line_no"].source is None:
        derived["line_no"] = "row_number() OVER (PARTITION BY invoice_id ORDER BY _row_number)"
    missing = []
    for col in entity.columns:
        src = by_name[col.name]
        if not col.required or src.source is not None or col.name in derived:
            continue
        if (
            entity.name == "invoices"
            and col.name == "amount"
            and by_name["quantity"].source
            and by_name["unit_price"].source
        ):
            continue
        accepted = ", ".join(f"'{n}'" for n in (col.name, *col.aliases))
        missing.append(f"'{col.name}' (accepted names: {accepted})")
    if missing:
        raise StructuralError(
            f"missing required column{'s' if len(missing) > 1 else ''} for {entity.name}: "
            + "; ".join(missing)
            + _entity_hint(entity, present)
        )
    notes = []
    unknown = [source.original_headers[n] for n in source.columns if n not in used]
    if unknown:
        notes.append("columns not in the data contract were not imported: " + ", ".join(unknown))
    return sources, notes, derived


def _entity_hint(entity: Entity, present: set[str]) -> str:
    """When the headers fit another entity better, say so (wrong file, wrong name)."""

    def fit(e: Entity) -> int:
        return sum(1 for c in e.columns if {c.name, *c.aliases} & present)

    best = max(ENTITIES.values(), key=fit)
    if best.name != entity.name and fit(best) > fit(entity):
        return f". The columns look like a {best.name} file: rename it or pass --entity"
    return ". Add the column or rename the header"


class Ingestor:
    """Loads files into the warehouse through one open connection (the single writer)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
        self.con = con
        self.settings = settings
        ensure_ingest_schema(con)

    def ingest_file(
        self,
        path: Path,
        entity_name: str | None = None,
        uploaded_by: str = "cli",
        options: SourceOptions | None = None,
        period: tuple[date, date] | None = None,
    ) -> UploadResult:
        """Ingest one file; `period` is the period the uploader says the export covers (its
        scope instead of its dates' range: a day without rows in it still replaces)."""
        path = Path(path)
        result = UploadResult(file_name=path.name, entity=entity_name, status="rejected")
        size = path.stat().st_size
        sha = sha256_of(path)
        upload_id = "u" + sha[:16]
        result.upload_id = upload_id
        previous = self.con.execute(
            "SELECT status, entity, rows_loaded FROM ingest.uploads WHERE upload_id = ?",
            [upload_id],
        ).fetchone()
        if previous and previous[0] == "accepted":
            result.status, result.entity, result.rows_loaded = "unchanged", previous[1], previous[2]
            result.message = "already imported (byte-identical upload); nothing changed"
            return result
        if previous and previous[0] == RETRACTED:  # retracted stays retracted
            result.status, result.entity = "unchanged", previous[1]
            result.message = (
                f"this exact file was imported as upload {upload_id} and retracted; nothing"
                " changed: to load its rows again, export the file again (new bytes)"
            )
            return result
        if previous:  # a rejected upload is checked again: settings may have changed
            self.con.execute("DELETE FROM ingest.uploads WHERE upload_id = ?", [upload_id])
            self.con.execute("DELETE FROM ingest.rejected_rows WHERE upload_id = ?", [upload_id])

        options = options or SourceOptions()
        vendor, detect_error = None, None
        try:  # vendor exports: the one plug-in point of moatmetrics.sources
            vendor = detect_vendor_file(path, entity_name, options, self.settings)
        except StructuralError as exc:  # ambiguous or forced-and-wrong: said below
            detect_error = exc
        except Exception:  # noqa: BLE001 - unreadable headers: the canonical readers' guards
            vendor = None  # read the file below and reject it with their reason
        if vendor is not None:
            result.profile = f"{vendor.profile.name} v{vendor.profile.version}"
        private = vendor is not None and vendor.profile.private
        # Refused before it is archived: the archive holds only files within the limit.
        over_limit = size > self.settings.max_upload_bytes
        if over_limit:
            archived = None
        else:
            archived = vendor.archive_target(sha) if private else self._archive(path, sha)
        uploaded_at = datetime.now(UTC)
        ctx = ValidationContext(
            upload_date=uploaded_at.date(),
            reporting_currency=self.settings.reporting_currency,
            date_format=options.date_format or os.environ.get("MOATMETRICS_DATE_FORMAT") or None,
        )
        seq = self.con.execute(
            "SELECT coalesce(max(upload_seq), 0) + 1 FROM ingest.uploads"
        ).fetchone()[0]
        fmt = None
        sheet = None
        reading = True  # until the file is a table, any failure means it is unreadable
        self.con.execute("BEGIN TRANSACTION")
        try:
            if over_limit:
                raise StructuralError(
                    f"the file is {size:,} bytes, over the"
                    f" {self.settings.max_upload_bytes:,}-byte limit: split it or raise"
                    " MOATMETRICS_MAX_UPLOAD_BYTES"
                )
            fmt = file_format(path)
            reading = False
            if detect_error is not None:
                reading = not isinstance(detect_error, StructuralError)
                raise detect_error
            if vendor is not None:
                entity_name = vendor.profile.entity
            if entity_name is None:
                entity_name = entity_for_file_stem(path.stem)
            if entity_name not in ENTITIES:
                raise StructuralError(
                    f"cannot tell what '{path.name}' holds"
                    + (f" ('{entity_name}' is not an entity)" if entity_name else "")
                    + ": name the file after its entity (clients, staff, time_entries,"
                    " invoices, licenses, expenses) or pass --entity"
                )
            result.entity = entity_name
            entity = ENTITIES[entity_name]
            reading = True
            if vendor is not None:
                source = vendor.read(self.con, "src", ctx.upload_date)
            else:
                source = read_source(self.con, path, entity_name, "src")
            reading = False
            sheet = source.sheet
            result.notes.extend(source.notes)
            result.row_count = source.row_count
            self._validate_and_load(entity, source, ctx, result, upload_id, seq, sheet)
            if vendor is not None:
                vendor.after_load(self.con, upload_id, result)
            if result.status == "accepted":
                source_name = vendor.profile.name if vendor else CANONICAL_SOURCE
                self._set_scope(result, source_name, period)
        except Exception as exc:  # noqa: BLE001 (one file's failure must not stop the others)
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                raise exc from None  # the warehouse itself failed: no file is to blame
            self.con.execute("BEGIN TRANSACTION")
            if isinstance(exc, StructuralError):
                message = str(exc)
            else:
                first = (str(exc).splitlines() or [""])[0][:300]
                message = (
                    f"the file could not be processed ({type(exc).__name__}: {first}): check"
                    " that it is a real export; if it is, report this message"
                )
                reading = True
            result.status = "rejected"
            result.unreadable = reading
            result.rows_loaded = 0
            result.quality_score = 0.0
            result.message = message
            self._record_problem(upload_id, path.name, sheet, None, None, None, message)
        self.con.execute(
            f"INSERT INTO ingest.uploads ({UPLOAD_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                upload_id,
                seq,
                sha,
                path.name,
                result.entity,
                fmt,
                size,
                result.row_count,
                result.rows_loaded,
                result.rows_rejected,
                result.warnings,
                result.status,
                result.message,
                uploaded_by,
                uploaded_at,
                ctx.upload_date,
                None if archived is None else str(archived),
                result.scope_source,
                result.scope_start,
                result.scope_end,
                result.scope_replaces,
            ],
        )
        if result.status == "accepted" and result.scope_replaces:
            rebuild_raw_table(self.con, ENTITIES[result.entity])
        elif result.status == "accepted":
            add_upload_to_raw_table(self.con, ENTITIES[result.entity], upload_id)
        self.con.execute("COMMIT")
        self._sample_problems(result)
        return result

    def _set_scope(
        self, result: UploadResult, source: str, period: tuple[date, date] | None = None
    ) -> None:
        """The accepted upload's scope: its source and the range of its rows' dates, or the
        declared period, which must then hold every row's date (else the file is rejected).

        The range replaces older rows of the same source (`rebuild_raw_table`) when the rows
        cannot be matched by id: a vendor export (a re-export of a period is that period's
        whole truth, deletions included), a file without an id column (ids derived from the
        content change when a row is corrected), or a declared period. A canonical file with
        its own ids replaces by id only, so exports split by technician or client add up."""
        assert result.entity is not None and result.upload_id is not None
        result.scope_source = source
        result.scope_replaces = (
            source != CANONICAL_SOURCE or result.ids_derived or period is not None
        )
        if result.entity not in SCOPE_DATES:
            if period is not None:
                raise StructuralError(
                    f"a declared period applies to dated files ({', '.join(SCOPE_DATES)}),"
                    f" not to {result.entity}: upload it without a period"
                )
            return
        rows = f"ingest.{result.entity}_rows WHERE _upload_id = ?"
        if period is None:
            result.scope_start, result.scope_end = self.con.execute(
                _scope_bounds(result.entity, rows), [result.upload_id]
            ).fetchone()
            return
        start, end = period
        if result.entity in MONTHLY_SCOPES:  # licenses: whole months
            start = start.replace(day=1)
            end = self.con.execute("SELECT last_day(CAST(? AS DATE))", [end]).fetchone()[0]
        column = SCOPE_DATES[result.entity]
        outside = self.con.execute(
            f"SELECT _row_number, {column} FROM {rows} AND ({column} < ? OR {column} > ?)"
            " ORDER BY _row_number LIMIT 1",
            [result.upload_id, start, end],
        ).fetchone()
        if outside is not None:
            raise StructuralError(
                f"row {outside[0]}: {column} {outside[1]} is outside the declared period"
                f" {start} to {end}: correct the date, or declare the period the export"
                " covers"
            )
        result.scope_start, result.scope_end = start, end

    def retract(self, upload_id: str, reason: str, retracted_by: str) -> str | None:
        """Take an accepted upload's rows out of raw and rebuild its raw table.

        The upload stays listed, as ``retracted``, and no longer replaces older rows; its rows
        stay in ``ingest.<entity>_rows`` (like its archived file) so that a rebuild as of a
        moment before the retraction counts them, but raw leaves them out. Returns its entity,
        or None when it is not an accepted upload here (unknown, rejected or retracted before).
        """
        found = self.con.execute(
            "SELECT entity FROM ingest.uploads WHERE upload_id = ? AND status = 'accepted'",
            [upload_id],
        ).fetchone()
        if found is None:
            return None
        entity = ENTITIES[found[0]]
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "UPDATE ingest.uploads SET status = ?, retracted_at = ?, retracted_by = ?,"
                " retract_reason = ? WHERE upload_id = ?",
                [RETRACTED, datetime.now(UTC), retracted_by, reason, upload_id],
            )
            rebuild_raw_table(self.con, entity)
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")
        return entity.name

    def _archive(self, path: Path, sha: str) -> Path:
        target = self.settings.uploads_dir / f"{sha}{path.suffix.lower()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():  # encrypted when the home is (moatmetrics.at_rest.encryption)
            archive_file(path, target, self.settings)
        return target

    def _record_problem(self, upload_id, file_name, sheet, row, column, value, rule) -> None:
        self.con.execute(
            "INSERT INTO ingest.rejected_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'error')",
            [
                upload_id,
                file_name,
                sheet,
                row,
                column,
                value,
                rule,
                "fix the file and upload it again",
            ],
        )

    def _validate_and_load(
        self,
        entity: Entity,
        source: SourceTable,
        ctx: ValidationContext,
        result: UploadResult,
        upload_id: str,
        seq: int,
        sheet: str | None,
    ) -> None:
        con = self.con
        sources, notes, derived = _resolve_sources(entity, source)
        result.notes.extend(notes)
        result.ids_derived = "entry_id" in derived
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE src_parsed AS {parsed_select(sources, ctx, 'src')}"
        )
        # The typed rows are a view on the parsed ones (casts and defaults are cheap to redo
        # on each read; writing ten million typed rows took 8 s), except for columns derived
        # by a window over the whole upload (ids of 1.x files, line numbers), computed once.
        typed = typed_select(sources, ctx, "src_parsed", derived)
        if derived:
            con.execute(f"CREATE OR REPLACE TEMP TABLE src_derived AS {typed}")
            typed = "SELECT * FROM src_derived"
        con.execute(f"CREATE OR REPLACE TEMP VIEW src_typed AS {typed}")
        started = time.perf_counter()
        try:
            outcomes = collect_problems(con, entity, sources, ctx, "src_parsed", "src_typed")
        except SuiteError as exc:
            raise StructuralError(f"{exc}: fix the suite file") from exc
        result.validation_seconds = round(time.perf_counter() - started, 3)
        result.expectations = [o.as_metadata() for o in outcomes]
        result.quality_score, result.recommendations = quality_summary(con, source.row_count)
        rejected, warnings = con.execute(
            "SELECT count(DISTINCT _row_number) FILTER (severity = 'error'),"
            " count(*) FILTER (severity = 'warning') FROM src_problems"
        ).fetchone()
        result.rows_rejected, result.warnings = rejected, warnings
        con.execute(
            "INSERT INTO ingest.rejected_rows SELECT ?, ?, ?, _row_number, column_name, value,"
            " rule, fix, severity FROM src_problems ORDER BY _row_number, column_name",
            [upload_id, result.file_name, sheet],
        )
        limit = self.settings.max_rejected_share
        if source.row_count and rejected / source.row_count > limit:
            result.status = "rejected"
            result.message = (
                f"{rejected} of {source.row_count} rows break the data contract (more than"
                f" {limit:.0%}); the whole file was rejected: fix the rows listed and upload it"
                " again"
            )
            return
        columns = ", ".join(entity.column_names)
        con.execute(
            f"INSERT INTO ingest.{entity.name}_rows SELECT {columns}, ?, ?, _row_number"
            " FROM src_typed ANTI JOIN (SELECT _row_number FROM src_problems"
            " WHERE severity = 'error') USING (_row_number)",
            [upload_id, seq],
        )
        result.rows_loaded = source.row_count - rejected
        result.status = "accepted"
        if source.row_count == 0:
            result.notes.append("the file has a header but no data rows; nothing to import")
        result.message = (
            f"{result.rows_loaded} rows loaded"
            + (f", {rejected} rejected" if rejected else "")
            + (f", {warnings} warnings" if warnings else "")
        )

    def _sample_problems(self, result: UploadResult) -> None:
        rows = self.con.execute(
            "SELECT row_number, column_name, value, rule, fix, severity FROM ingest.rejected_rows"
            " WHERE upload_id = ? ORDER BY severity, row_number NULLS FIRST LIMIT ?",
            [result.upload_id, PROBLEM_SAMPLE],
        ).fetchall()
        keys = ("row", "column", "value", "rule", "fix", "severity")
        result.problems = [dict(zip(keys, r, strict=True)) for r in rows]
        if rows:
            report = self.settings.reports_dir / f"{result.upload_id}-problems.csv"
            report.parent.mkdir(parents=True, exist_ok=True)
            # Values come straight from the file: neutralised like every CSV the product writes.
            columns = ("file_name", "sheet", "row_number", "column_name", "value", "rule", "fix")
            text = ", ".join(
                c if c == "row_number" else f"{neutralise_sql(c)} AS {c}" for c in columns
            )
            self.con.execute(
                f"COPY (SELECT {text}, severity FROM ingest.rejected_rows"
                f" WHERE upload_id = ? ORDER BY row_number NULLS FIRST, column_name)"
                f" TO '{report}' (HEADER)",
                [result.upload_id],
            )
            result.report_path = str(report)
