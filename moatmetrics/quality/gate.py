"""The quality gate of one upload: every problem of every row, in one table.

Three kinds of rule fill ``src_problems`` (row, column, raw value, rule, fix, severity,
recommendation):

1. parsing (SQL, from the contract's types): values that cannot be read as their type;
2. the entity's Great Expectations suite (``expectations/<entity>.json``) on the typed rows,
   plus exact repeats of an earlier row;
3. cross-file references (SQL against the warehouse): clients and staff that the clients and
   staff files do not know (warnings).
"""

from __future__ import annotations

import duckdb

from moatmetrics.contract.entities import Entity
from moatmetrics.contract.validation import (
    ColumnSource,
    ValidationContext,
    exact_duplicates_select,
    parse_problems_select,
    sql_literal,
)
from moatmetrics.quality.suites import (
    ExpectationOutcome,
    SuiteError,
    load_suite_document,
    merge_outcomes,
    referenced_columns,
    split_key,
    validate_upload,
)

PROBLEMS = "src_problems"
#: Uploads longer than this are validated by Great Expectations in parts (`_parts`).
GX_PART_ROWS = 2_000_000
_ERROR_ROWS = f"(SELECT _row_number FROM {PROBLEMS} WHERE severity = 'error')"

# (entity, column, referenced raw table, its key, label)
REFERENCES = (
    ("time_entries", "client_id", "clients", "client_id", "client"),
    ("invoices", "client_id", "clients", "client_id", "client"),
    ("licenses", "client_id", "clients", "client_id", "client"),
    ("expenses", "client_id", "clients", "client_id", "client"),
    ("time_entries", "staff_id", "staff", "staff_id", "staff member"),
)


def collect_problems(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    sources: list[ColumnSource],
    ctx: ValidationContext,
    parsed: str,
    typed: str,
) -> list[ExpectationOutcome]:
    """Create ``src_problems`` for the upload; return the suite's per-expectation outcomes."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PROBLEMS} (_row_number BIGINT, column_name VARCHAR,"
        " value VARCHAR, rule VARCHAR, fix VARCHAR, severity VARCHAR, recommendation VARCHAR)"
    )
    con.execute(
        f"INSERT INTO {PROBLEMS} SELECT *, '{{count}} row(s): ' || rule || ' in column '"
        f" || column_name || ' — ' || fix FROM ({parse_problems_select(sources, ctx, parsed)})"
    )
    con.execute(
        f"INSERT INTO {PROBLEMS} SELECT *, '{{count}} row(s) repeat an earlier row exactly'"
        f" FROM ({exact_duplicates_select(entity, typed, _ERROR_ROWS)})"
    )
    outcomes = _run_suite(con, entity, ctx, typed)
    _reference_warnings(con, entity, typed)
    return outcomes


def _run_suite(
    con: duckdb.DuckDBPyConnection, entity: Entity, ctx: ValidationContext, typed: str
) -> list[ExpectationOutcome]:
    available = {name: name for name in entity.column_names}
    available.update({name: sql for name, sql, _ in entity.validation_columns})
    needed = referenced_columns(load_suite_document(entity.name))
    unknown = [c for c in needed if c not in available]
    if unknown:
        raise SuiteError(
            f"the {entity.name} suite refers to unknown column(s) {', '.join(unknown)};"
            f" known: {', '.join(available)}"
        )
    # Only the columns the suite reads: GX fingerprints the whole frame it is given.
    selects = ", ".join(f"{available[c]} AS {c}" for c in needed)
    base = (
        f"SELECT _row_number{', ' if selects else ''}{selects} FROM {typed}"
        f" WHERE _row_number NOT IN {_ERROR_ROWS}"
    )
    parts = _parts(con, typed, split_key(load_suite_document(entity.name)), available)
    outcomes_of_parts = []
    for part in parts:
        frame = con.execute(f"{base}{part} ORDER BY _row_number").df()
        if not frame.empty:
            outcomes_of_parts.append(validate_upload(entity.name, frame, ctx.suite_parameters()))
        del frame  # one part's frame in memory at a time
    if not outcomes_of_parts:
        return []
    outcomes = merge_outcomes(outcomes_of_parts)
    reported = {name: column for name, _, column in entity.validation_columns}
    for outcome in outcomes:
        if not outcome.rows:
            continue
        columns = [reported.get(c, c) for c in outcome.columns]
        value = (
            f"{columns[0]}__raw"
            if len(columns) == 1
            else "concat_ws(', ', " + ", ".join(f"{c}__raw" for c in columns) + ")"
        )
        con.execute(
            f"INSERT INTO {PROBLEMS} SELECT t._row_number, ?, {value},"
            f" replace(?, '{{value}}', coalesce({value}, '')), ?, ?, ?"
            f" FROM {typed} t SEMI JOIN (SELECT unnest(?::BIGINT[]) AS r) f"
            " ON t._row_number = f.r",
            [
                columns[0],
                outcome.rule,
                outcome.fix,
                outcome.severity,
                outcome.recommendation,
                outcome.rows,
            ],
        )
    return outcomes


def _parts(
    con: duckdb.DuckDBPyConnection, typed: str, key: list[str] | None, available: dict[str, str]
) -> list[str]:
    """WHERE-clause tails that split a large upload for Great Expectations (memory bound).

    GX validates a pandas copy of the rows; at ten million rows that copy and GX's per-metric
    intermediates took several GB. Rows are split by a hash of the suite's uniqueness key so
    that duplicates meet in the same part (`split_key`); a suite that must see every row at
    once is validated whole.
    """
    rows = con.execute(f"SELECT count(*) FROM {typed}").fetchone()[0]
    count = -(-rows // GX_PART_ROWS)
    if key is None or count <= 1:
        return [""]
    hashed = f"hash({', '.join(available[c] for c in key)})" if key else "_row_number"
    return [f" AND {hashed} % {count} = {i}" for i in range(count)]


def _reference_warnings(con: duckdb.DuckDBPyConnection, entity: Entity, typed: str) -> None:
    """Warn about references the warehouse does not know (only when that file exists)."""
    for name, column, table, key, label in REFERENCES:
        if name != entity.name:
            continue
        known = con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
        if not known:
            continue  # e.g. MoatMetrics 1.x: no staff file, staff known by name only
        con.execute(
            f"INSERT INTO {PROBLEMS} SELECT _row_number, {sql_literal(column)}, {column},"
            f" '{label} ' || {column} || ' is not in the {table} file',"
            f" 'add the {label} to the {table} file or correct the id', 'warning',"
            f" '{{count}} row(s) refer to a {label} the {table} file does not have'"
            f" FROM {typed} WHERE {column} IS NOT NULL"
            f" AND _row_number NOT IN {_ERROR_ROWS}"
            f" AND {column} NOT IN (SELECT {key} FROM raw.{table})"
        )


def quality_summary(con: duckdb.DuckDBPyConnection, row_count: int) -> tuple[float, list[str]]:
    """Quality score and plain-language recommendations of the upload.

    The score is the share of rows passing, weighted by severity: a clean row counts 1, a row
    with warnings only 0.5, a rejected row 0. Recommendations group the problems by kind,
    errors first, then the most frequent.
    """
    errors, warnings_only = con.execute(
        f"SELECT count(DISTINCT _row_number) FILTER (severity = 'error'),"
        f" count(DISTINCT _row_number) FILTER (severity = 'warning'"
        f" AND _row_number NOT IN {_ERROR_ROWS}) FROM {PROBLEMS}"
    ).fetchone()
    score = 1.0 if row_count == 0 else (row_count - errors - 0.5 * warnings_only) / row_count
    groups = con.execute(
        f"SELECT recommendation, count(DISTINCT _row_number) AS n, min(severity) AS severity"
        f" FROM {PROBLEMS} GROUP BY recommendation ORDER BY severity, n DESC, recommendation"
    ).fetchall()
    return round(score, 4), [text.replace("{count}", str(n)) for text, n, _ in groups]
