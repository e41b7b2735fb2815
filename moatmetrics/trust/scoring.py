"""One trust run per mart, and the churn run: warehouse in, ``trust.*`` tables out.

Called by the Dagster assets (``orchestration/assets/trust.py``) in the pipeline process, the
warehouse's only writer. A mart's run is one DuckDB statement over whole columns: the
evidence dbt built (`evidence`), the confidence factors (`confidence`) and the explanation
stages (`explanations`, `utilization_explanations`) chained as CTEs into a temporary table,
over the rows whose inputs changed since the last run (every row on a first run). Python then
syncs the flagged rows with the review queue and updates the trust table in place, so a
re-run on unchanged data scores nothing and leaves identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from moatmetrics import marts
from moatmetrics.appdb.reviews import SyncSummary
from moatmetrics.at_rest.duckdb_files import transaction
from moatmetrics.canonical import digest
from moatmetrics.fingerprints import code_digest, record_inputs, recorded_inputs, settings_digest
from moatmetrics.marts import GRAINS, RISK_TABLE
from moatmetrics.settings import Settings
from moatmetrics.trust import (
    churn,
    confidence,
    evidence,
    explanations,
    formatting,
    review,
    templates,
    utilization_explanations,
)
from moatmetrics.trust.tables import (
    FACTOR_COLUMNS,
    FACTORS,
    MODEL_COLUMNS,
    MODEL_TABLE,
    NOT_REQUIRED,
    RISK_COLUMNS,
    SCHEMA,
    TRUST_COLUMNS,
    scores_table,
    write_table,
)

EXPLAINERS = {
    "client_profitability": explanations.client_profitability,
    "license_utilization": utilization_explanations.license_utilization,
    "staff_utilization": utilization_explanations.staff_utilization,
}
_GRAIN_TYPES = {
    "client_id": "VARCHAR",
    "vendor": "VARCHAR",
    "product": "VARCHAR",
    "staff_id": "VARCHAR",
    "month": "DATE",
}
_NUMBER_TYPES = frozenset(
    {"DOUBLE", "FLOAT", "REAL", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
FEATURES_TABLE = "intermediate.int_client_months_featured"
MONTHS_TABLE = f"marts.{marts.MONTHS_TABLE}"
SCORED = "_trust_scored"
#: The evidence rows to score anew, and every evidence row's grain and inputs hash.
CHANGED, INPUTS = "_trust_changed", "_trust_inputs"
#: The rows to sync with the review queue, numbered in the mart's order.
FLAGGED = "_trust_flagged"
#: What the churn model was last trained on (`run_churn`).
CHURN_INPUTS = "churn_inputs"
#: Columns of the trust tables a row keeps while its inputs are unchanged, in the order the
#: scoring query gives them (`scored_sql`).
_SCORED_TRUST = ("confidence", *FACTOR_COLUMNS, "needs_review")


@dataclass(frozen=True)
class ScoreRun:
    """What one mart's trust run did, for the asset's metadata."""

    mart: str
    rows: int
    needs_review: int
    mean_confidence: float | None
    review_counts: dict[str, int]
    sync: SyncSummary
    rescored: int  # rows scored anew; the others' inputs had not changed


def _is_number(sql_type: str) -> bool:
    """A DuckDB numeric type (DECIMAL(p, s) with its precision, the others by name)."""
    base = sql_type.upper().split("(")[0].strip()
    return base == "DECIMAL" or base in _NUMBER_TYPES


def scored_sql(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    threshold: float,
    last_complete: date | None = None,
    source: str | None = None,
    *,
    rate: bool = True,
    explain: bool = True,
) -> str:
    """The query of every row of `source` (default: the mart's evidence table) with its
    evidence, (with `rate`) confidence, factors and needs_review, and (with `explain`)
    explanation and drivers.

    Every number is read as DOUBLE (the factors and sentences are defined on doubles), so
    the same evidence gives the same digits whatever type the mart declares. Rows of months
    after `last_complete` are not flagged: their numbers are low because the month has not
    finished arriving, not because they are wrong, and they change with every upload until
    it has. Their confidence stays as computed.
    """
    formatting.install_macros(con)
    source = source or evidence.table(mart)
    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    columns = {str(row[0]) for row in described}
    casts = ", ".join(
        f'CAST("{name}" AS DOUBLE) AS "{name}"' if _is_number(str(kind)) else f'"{name}"'
        for name, kind, *_ in described
    )
    stages = [confidence.select_list(mart, columns, threshold)] if rate else []
    if explain:
        stages += [
            ",\n    ".join(f"{expression} AS {name}" for name, expression in stage.items())
            for stage in EXPLAINERS[mart](columns)
        ]
    ctes = [f"ev AS (SELECT {casts} FROM {source} AS evidence)"]
    for number, select_list in enumerate(stages):
        before = f"stage{number - 1}" if number else "ev"
        ctes.append(f"stage{number} AS (SELECT *,\n    {select_list}\nFROM {before})")
    held = "needs_review"
    if last_complete is not None:
        held = f"needs_review AND month <= DATE '{last_complete.isoformat()}'"
    kept = [f'"{name}"' for name, *_ in described]
    if rate:
        kept += ["confidence", *(f"confidence_{name}" for name in FACTORS)]
        kept.append(f"{held} AS needs_review")
    if explain:
        note = "''"
        if "overridden_rows" in columns:
            note = templates.corrections_note("overridden_rows")
        kept += [f"explanation || {note} AS explanation", "drivers"]
    order = ", ".join(name for name in evidence.ORDER[mart] if name.split()[0] in columns)
    return (
        "WITH " + ",\n".join(ctes) + "\n"
        f"SELECT {', '.join(kept)}\nFROM stage{len(stages) - 1}"
        + (f" ORDER BY {order}" if order else "")
    )


def score(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    threshold: float,
    source: str | None = None,
    *,
    rate: bool = True,
    explain: bool = True,
) -> pd.DataFrame:
    """Every row of `source` (default: the mart's evidence) scored and explained, as a frame
    (for tests and tools; the pipeline keeps the rows in DuckDB)."""
    query = scored_sql(con, mart, threshold, None, source, rate=rate, explain=explain)
    return as_evidence_frame(con.execute(query).df())


def as_evidence_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64 (nullable ints: NA -> NaN), month as a date: the values the review
    queue hashes, as they always were."""
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        ):
            frame[column] = frame[column].astype("float64")
    if "month" in frame:
        frame["month"] = pd.to_datetime(frame["month"]).dt.date
    return frame


def mart_columns(con: duckdb.DuckDBPyConnection, mart: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM marts.{mart} LIMIT 0").description]


def last_complete_month(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest month every usual source has reported for (``marts.month_completeness``);
    None when the warehouse has no such table or no complete month."""
    try:
        row = con.execute(f"SELECT max(month) FROM {MONTHS_TABLE} WHERE is_complete").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def client_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each client's name (from its latest profitability row), for the review queue's items."""
    rows = con.execute(
        "SELECT client_id, arg_max(client_name, month) FROM marts.client_profitability "
        "WHERE client_name IS NOT NULL GROUP BY client_id"
    ).fetchall()
    return {str(client_id): str(name) for client_id, name in rows}


def _same_grain(mart: str, left: str, right: str) -> str:
    """Join condition on a mart's grain (a licence's vendor may be NULL)."""
    return " AND ".join(f'{left}."{c}" IS NOT DISTINCT FROM {right}."{c}"' for c in GRAINS[mart])


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None  # count(*) always answers one row
    return int(row[0])


def _keeps_inputs_hash(con: duckdb.DuckDBPyConnection, mart: str) -> bool:
    """Whether the mart's trust table exists with its rows' inputs hash (absent in a first
    run, and in a table written before the hash was kept)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_catalog = current_database()"
        f" AND table_schema = '{SCHEMA}' AND table_name = '{scores_table(mart)}'"
        " AND column_name = 'inputs_hash'"
    ).fetchone()
    return bool(row and row[0])


def _score_changed_rows(
    con: duckdb.DuckDBPyConnection, settings: Settings, mart: str, last_complete: date | None
) -> tuple[bool, str]:
    """Score into `SCORED` the evidence rows whose inputs changed; return whether the trust
    table is updated in place (else rewritten whole) and the SQL of its kept flagged rows.

    A row's score depends only on its evidence row, the review threshold, the last complete
    month, the settings that reach the marts and the code. Each trust table keeps the hash
    of those per row (`inputs_hash`, in `INPUTS` for this run): a row whose hash is unchanged
    keeps its confidence, factors, explanation and drivers, and only the other rows go
    through the scoring SQL. A day's upload changes the current month's rows (10m: 35,650 of
    874,423 licence rows). A first run, or a table without the hash, scores every row.
    """
    threshold = settings.review_threshold
    stamp = digest([code_digest(), settings_digest(settings), threshold, str(last_complete)])
    source, table = evidence.table(mart), f"{SCHEMA}.{scores_table(mart)}"
    grain = ", ".join(f'"{c}"' for c in GRAINS[mart])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {INPUTS} AS"
        f" SELECT {grain}, hash(e, '{stamp}') AS inputs_hash FROM {source} AS e"
    )
    if not _keeps_inputs_hash(con, mart):
        scored = scored_sql(con, mart, threshold, last_complete)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {SCORED} AS {scored}")
        return False, ""
    held = (
        f"SELECT i.* FROM {INPUTS} AS i JOIN {table} AS t ON {_same_grain(mart, 'i', 't')}"
        " AND i.inputs_hash = t.inputs_hash"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS SELECT e.* FROM {source} AS e"
        f" ANTI JOIN ({held}) AS h ON {_same_grain(mart, 'e', 'h')}"
    )
    scored = scored_sql(con, mart, threshold, last_complete, CHANGED)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCORED} AS {scored}")
    # The kept rows still flagged, as the scoring query gives them: numbers as DOUBLE, the
    # trust columns as the table holds them (DOUBLE and text, exactly as computed).
    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    casts = ", ".join(
        f'CAST(e."{name}" AS DOUBLE) AS "{name}"' if _is_number(str(kind)) else f'e."{name}"'
        for name, kind, *_ in described
    )
    trust = ", ".join(f't."{c}"' for c in (*_SCORED_TRUST, "explanation", "drivers"))
    kept_flagged = (
        f"SELECT {casts}, {trust} FROM {source} AS e"
        f" JOIN {INPUTS} AS i ON {_same_grain(mart, 'e', 'i')}"
        f" JOIN {table} AS t ON {_same_grain(mart, 'i', 't')}"
        " AND i.inputs_hash = t.inputs_hash WHERE t.needs_review"
    )
    return True, kept_flagged


def _write_scores(
    con: duckdb.DuckDBPyConnection, mart: str, in_place: bool, statuses: pd.DataFrame
) -> None:
    """Write the rows scored anew, with the review status of each flagged row (by `_row` of
    `FLAGGED`), into the trust table: in place (rows whose inputs changed or went away
    replaced, kept rows' statuses updated) or as a new table in the mart's order."""
    table = f"{SCHEMA}.{scores_table(mart)}"
    grains = ", ".join(f'CAST(s."{c}" AS {_GRAIN_TYPES[c]}) AS "{c}"' for c in GRAINS[mart])
    trust = ", ".join(
        f'CAST(s."{c}" AS {t}) AS "{c}"' for c, t in TRUST_COLUMNS.items() if c != "review_status"
    )
    con.register("_trust_statuses", statuses)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _trust_flag_status AS SELECT f.*, CAST(r.status AS"
            # a month with no row flagged has no status: an empty frame's column is a DOUBLE
            # to DuckDB, so the cast (a first month of data failed here)
            f" VARCHAR) AS status FROM {FLAGGED} AS f JOIN _trust_statuses AS r USING (_row)"
        )
    finally:
        con.unregister("_trust_statuses")
    rows = (
        f"SELECT {grains}, {trust}, CAST(CASE WHEN s.needs_review"
        f" THEN coalesce(r.status, 'open') ELSE '{NOT_REQUIRED}' END AS VARCHAR)"
        f" AS review_status, i.inputs_hash FROM {SCORED} AS s"
        f" LEFT JOIN _trust_flag_status AS r ON {_same_grain(mart, 's', 'r')}"
        f" JOIN {INPUTS} AS i ON {_same_grain(mart, 's', 'i')}"
    )
    with transaction(con):
        if not in_place:
            order = ", ".join(f"s.{c}" for c in evidence.ORDER[mart])
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {rows} ORDER BY {order}")
        else:
            con.execute(
                f"DELETE FROM {table} AS t WHERE NOT EXISTS (SELECT 1 FROM {INPUTS} AS i"
                f" WHERE {_same_grain(mart, 'i', 't')} AND i.inputs_hash = t.inputs_hash)"
            )
            con.execute(f"INSERT INTO {table} {rows}")
            con.execute(
                f"UPDATE {table} AS t SET review_status = r.status FROM _trust_flag_status AS r"
                f" WHERE {_same_grain(mart, 't', 'r')} AND r.status IS NOT NULL"
                " AND t.review_status IS DISTINCT FROM r.status"
            )


def run_scores(con: duckdb.DuckDBPyConnection, settings: Settings, mart: str) -> ScoreRun:
    """Score one mart's rows whose inputs changed (`_score_changed_rows`), sync the flagged
    rows with the review queue, write ``trust.<mart>_scores``."""
    last_complete = last_complete_month(con)
    try:
        in_place, kept_flagged = _score_changed_rows(con, settings, mart, last_complete)
        flagged_rows = f"SELECT *, false AS _kept FROM {SCORED} WHERE needs_review"
        if in_place:
            flagged_rows = (
                f"{flagged_rows} UNION ALL BY NAME SELECT *, true AS _kept FROM ({kept_flagged})"
            )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {FLAGGED} AS SELECT row_number() OVER"
            f" (ORDER BY {', '.join(evidence.ORDER[mart])}) AS _row, * FROM ({flagged_rows})"
        )
        flagged = as_evidence_frame(con.execute(f"SELECT * FROM {FLAGGED} ORDER BY _row").df())
        names = client_names(con) if mart == "license_utilization" else None
        status, summary = review.sync(
            settings, mart, flagged, mart_columns(con, mart), names, flagged["_kept"].tolist()
        )
        statuses = pd.DataFrame({"_row": flagged["_row"].astype("int64"), "status": status})
        _write_scores(con, mart, in_place, statuses)
        rescored = _count(con, SCORED)
        rows, mean = con.execute(
            f"SELECT count(*), round(avg(confidence), 4) FROM {SCHEMA}.{scores_table(mart)}"
        ).fetchone() or (0, None)
    finally:
        for temporary in (SCORED, CHANGED, INPUTS, FLAGGED, "_trust_flag_status"):
            con.execute(f"DROP TABLE IF EXISTS {temporary}")
    counts = pd.Series(status, dtype=object).value_counts().to_dict()
    return ScoreRun(
        mart=mart,
        rows=int(rows),
        needs_review=len(flagged),
        mean_confidence=None if mean is None else float(mean),
        review_counts={str(k): int(v) for k, v in sorted(counts.items())},
        sync=summary,
        rescored=rescored,
    )


def load_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute(f"SELECT * FROM {FEATURES_TABLE}").df()
    for column in ("month", "data_last_month", "last_active_month", "churn_month"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def run_churn(con: duckdb.DuckDBPyConnection) -> churn.ChurnResult:
    """Train, validate and score; write ``trust.client_risk`` and ``trust.churn_model``.

    The model sees only the complete months (`churn.complete_months_only`) and trains with a
    fixed random state, so the same features give the same model and scores. When the
    features it would read (the complete months, cut as `complete_months_only` cuts them) and
    the code are the ones of the last run (their hash is in ``trust.churn_inputs``), the
    tables are kept as they are: a day's upload changes a month in progress, so the 7 s of
    training at 10m are spent when a month completes or history changes, not every day.
    """
    features = churn.complete_months_only(load_features(con), last_complete_month(con))
    # the frame the model would read (its rows, and the end of data it is told), hashed
    rows = pd.util.hash_pandas_object(features, index=False)
    fingerprint = digest([code_digest(), len(rows), int(rows.sum()), list(features.columns)])
    kept = _kept_churn(con, fingerprint)
    if kept is not None:
        return kept
    result = churn.train_and_score(features)
    scores = result.scores.copy()
    if not scores.empty:
        scores["month"] = pd.to_datetime(scores["month"])
    model = pd.DataFrame([{name: result.model.get(name) for name in MODEL_COLUMNS}])
    for column in ("train_from", "train_to", "validation_from", "validation_to"):
        model[column] = pd.to_datetime(model[column])
    with transaction(con):
        write_table(con, RISK_TABLE, scores, RISK_COLUMNS)
        write_table(con, MODEL_TABLE, model, MODEL_COLUMNS)
        record_inputs(con, f"{SCHEMA}.{CHURN_INPUTS}", {"fingerprint": fingerprint})
    return result


def _kept_churn(con: duckdb.DuckDBPyConnection, fingerprint: str) -> churn.ChurnResult | None:
    """The last run's churn result, read back, when it was made from `fingerprint`."""
    recorded = recorded_inputs(con, f"{SCHEMA}.{CHURN_INPUTS}")
    if recorded is None or recorded["fingerprint"] != fingerprint:
        return None
    cursor = con.execute(f"SELECT * FROM {SCHEMA}.{MODEL_TABLE}")
    row = cursor.fetchone()
    if row is None:
        return None
    model = dict(zip([d[0] for d in cursor.description], row, strict=True))
    scores = con.execute(f"SELECT * FROM {SCHEMA}.{RISK_TABLE}").df()
    return churn.ChurnResult(model["status"], model["reason"], scores, model, retrained=False)
