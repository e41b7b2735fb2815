"""`raw.row_overrides`: the active corrections, copied from the app database on every run.

dbt applies corrections from this table (``stg_raw__row_overrides`` and the
``int_<entity>_corrected`` models), so it must always exist, empty when there are none:
`ensure_table` creates it beside the other raw tables. `copy_active_overrides` replaces its
rows with the app database's active overrides before dbt builds, then records on each
override whether its row is in the latest raw data (``applied``) or not
(``row_not_found``): an override of a row that left the data is listed as such, never
silently ignored. A reverted override is simply not copied, so the next build is as if it
never existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from moatmetrics.appdb import audit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.overrides import active_overrides, key_of, record_row_status
from moatmetrics.canonical import digest
from moatmetrics.quality.corrections import KEY_COLUMNS
from moatmetrics.settings import Settings

TABLE = "raw.row_overrides"
_KEY_TYPES = {"line_no": "BIGINT", "month": "DATE"}
COLUMNS: tuple[tuple[str, str], ...] = (
    ("override_id", "BIGINT"),
    ("entity", "VARCHAR"),
    ("row_key", "VARCHAR"),
    ("action", "VARCHAR"),
    ("column_name", "VARCHAR"),
    ("value", "VARCHAR"),
    *((name, _KEY_TYPES.get(name, "VARCHAR")) for name in KEY_COLUMNS),
)
# How an override's key meets its raw row, per entity (raw table `t`, override `o`).
_ROW_MATCH = {
    "time_entries": "t.entry_id = o.entry_id",
    "invoices": "t.invoice_id = o.invoice_id AND t.line_no = o.line_no",
    "expenses": "t.expense_id = o.expense_id",
    "licenses": "t.client_id = o.client_id AND coalesce(t.vendor, '') = coalesce(o.vendor, '')"
    " AND t.product = o.product AND CAST(date_trunc('month', t.snapshot_date) AS DATE) = o.month",
    "clients": "t.client_id = o.client_id",
    "staff": "t.staff_id = o.staff_id",
}


@dataclass(frozen=True)
class CopySummary:
    copied: int
    row_not_found: list[int]
    #: `corrections_digest` of the rows copied: the run's input fingerprint (run_inputs.py)
    digest: str = ""


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")


def active_override_rows(settings: Settings) -> list[tuple[Any, ...]]:
    """The app database's active overrides as rows of `raw.row_overrides`."""
    with session_scope(settings) as session:
        return [
            (o.id, o.entity, o.row_key, o.action, o.column_name, o.value)
            + tuple(key_of(o).get(name) for name in KEY_COLUMNS)
            for o in active_overrides(session)
        ]


def corrections_digest(rows: list[tuple[Any, ...]]) -> str:
    """The fingerprint of a set of override rows (`moatmetrics.run_inputs`)."""
    return digest(sorted(rows, key=lambda row: row[0]))


def copy_active_overrides(con: duckdb.DuckDBPyConnection, settings: Settings) -> CopySummary:
    """Replace `raw.row_overrides` with the active overrides; record which rows were found."""
    ensure_table(con)
    rows = active_override_rows(settings)
    con.execute(f"DELETE FROM {TABLE}")
    if not rows:
        return CopySummary(0, [], corrections_digest(rows))
    con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    found: set[int] = set()
    for entity, match in _ROW_MATCH.items():
        found.update(
            r[0]
            for r in con.execute(
                f"SELECT o.override_id FROM {TABLE} o WHERE o.entity = ?"
                f" AND EXISTS (SELECT 1 FROM raw.{entity} t WHERE {match})",
                [entity],
            ).fetchall()
        )
    ids = [r[0] for r in rows]
    missing = [i for i in ids if i not in found]
    with session_scope(settings, write=True) as session:
        record_row_status(session, found, ids)
        audit.append(
            session, audit.PIPELINE, "pipeline.corrections", "ok", target="corrections",
            details={"active": len(ids), "row_not_found": missing},
        )  # fmt: skip
    return CopySummary(len(ids), missing, corrections_digest(rows))
