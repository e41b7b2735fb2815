"""One trust run per mart, and the churn run: warehouse in, ``trust.*`` tables out.

Called by the Dagster assets (``orchestration/assets/trust.py``) in the pipeline process, the
warehouse's only writer. Each run reads what it needs, computes column-wise, syncs the review
queue and replaces its trust table, so a re-run on unchanged data writes identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from moatmetrics import marts
from moatmetrics.appdb.reviews import SyncSummary
from moatmetrics.settings import Settings
from moatmetrics.trust import (
    churn,
    confidence,
    evidence,
    explanations,
    review,
    templates,
    utilization_explanations,
)
from moatmetrics.trust.tables import (
    GRAINS,
    MODEL_COLUMNS,
    MODEL_TABLE,
    RISK_COLUMNS,
    RISK_TABLE,
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
FEATURES_TABLE = "intermediate.int_client_months_featured"
MONTHS_TABLE = f"marts.{marts.MONTHS_TABLE}"


@dataclass(frozen=True)
class ScoreRun:
    """What one mart's trust run did, for the asset's metadata."""

    mart: str
    rows: int
    needs_review: int
    mean_confidence: float | None
    review_counts: dict[str, int]
    sync: SyncSummary


def score(mart: str, ev: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The evidence frame plus confidence, factors, needs_review, explanation and drivers."""
    ev = ev.reset_index(drop=True)
    explained = templates.with_corrections(EXPLAINERS[mart](ev), ev)
    scored = pd.concat([ev, confidence.score(mart, ev, threshold), explained], axis=1)
    return scored


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


def hold_months_in_progress(scored: pd.DataFrame, last_complete: date | None) -> pd.DataFrame:
    """Rows of months after the last complete one are not flagged for review: their numbers
    are low because the month has not finished arriving, not because they are wrong, and they
    change with every upload until it has. Their confidence stays as computed."""
    if last_complete is not None:
        scored.loc[scored["month"] > last_complete, "needs_review"] = False
    return scored


def client_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each client's name (from its latest profitability row), for the review queue's items."""
    rows = con.execute(
        "SELECT client_id, arg_max(client_name, month) FROM marts.client_profitability "
        "WHERE client_name IS NOT NULL GROUP BY client_id"
    ).fetchall()
    return {str(client_id): str(name) for client_id, name in rows}


def run_scores(con: duckdb.DuckDBPyConnection, settings: Settings, mart: str) -> ScoreRun:
    """Score every row of one mart, sync its review items, write ``trust.<mart>_scores``."""
    scored = score(mart, evidence.load(con, mart), settings.review_threshold)
    scored = hold_months_in_progress(scored, last_complete_month(con))
    names = client_names(con) if mart == "license_utilization" else None
    status, summary = review.sync(settings, mart, scored, mart_columns(con, mart), names)
    scored["review_status"] = status
    scored["month"] = pd.to_datetime(scored["month"])
    columns = {**{c: _GRAIN_TYPES[c] for c in GRAINS[mart]}, **TRUST_COLUMNS}
    write_table(con, scores_table(mart), scored, columns)
    counts = status[scored["needs_review"]].value_counts().to_dict()
    return ScoreRun(
        mart=mart,
        rows=len(scored),
        needs_review=int(scored["needs_review"].sum()),
        mean_confidence=round(float(scored["confidence"].mean()), 4) if len(scored) else None,
        review_counts={str(k): int(v) for k, v in sorted(counts.items())},
        sync=summary,
    )


def load_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = con.execute(f"SELECT * FROM {FEATURES_TABLE}").df()
    for column in ("month", "data_last_month", "last_active_month", "churn_month"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def run_churn(con: duckdb.DuckDBPyConnection) -> churn.ChurnResult:
    """Train, validate and score; write ``trust.client_risk`` and ``trust.churn_model``."""
    features = churn.complete_months_only(load_features(con), last_complete_month(con))
    result = churn.train_and_score(features)
    scores = result.scores.copy()
    if not scores.empty:
        scores["month"] = pd.to_datetime(scores["month"])
    write_table(con, RISK_TABLE, scores, RISK_COLUMNS)
    model = pd.DataFrame([{name: result.model.get(name) for name in MODEL_COLUMNS}])
    for column in ("train_from", "train_to", "validation_from", "validation_to"):
        model[column] = pd.to_datetime(model[column])
    write_table(con, MODEL_TABLE, model, MODEL_COLUMNS)
    return result
