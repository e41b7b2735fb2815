"""Names and shapes of the trust tables, shared by the assets and the snapshot publisher.

Kept free of heavy imports: the publisher and the API import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the API imports this module; it never needs pandas at run time
    import duckdb
    import pandas as pd

SCHEMA = "trust"


#: The confidence factors, in the order they are published.
FACTORS = ("cost_completeness", "evidence_volume", "data_quality", "consistency", "coverage")
FACTOR_COLUMNS = tuple(f"confidence_{name}" for name in FACTORS)
#: confidence = product(factor ** weight): evidence volume counts half (few inputs make a
#: number noisy, not wrong); see `moatmetrics.trust.confidence`.
FACTOR_WEIGHTS: dict[str, float] = {
    "cost_completeness": 1.0,
    "evidence_volume": 0.5,
    "data_quality": 1.0,
    "consistency": 1.0,
    "coverage": 1.0,
}

#: Columns the trust layer adds to each published mart, in order, with their DuckDB types.
TRUST_COLUMNS: dict[str, str] = {
    "confidence": "DOUBLE",
    **dict.fromkeys(FACTOR_COLUMNS, "DOUBLE"),
    "explanation": "VARCHAR",
    "drivers": "VARCHAR",
    "needs_review": "BOOLEAN",
    "review_status": "VARCHAR",
}

#: Review status of a row whose confidence is at or above the threshold.
NOT_REQUIRED = "not_required"

MODEL_TABLE = "churn_model"

#: marts.client_risk: one row per current client, the latest month's churn risk.
RISK_COLUMNS: dict[str, str] = {
    "client_id": "VARCHAR",
    "client_name": "VARCHAR",
    "month": "DATE",
    "churn_risk": "DOUBLE",
    "risk_rank": "BIGINT",
    "risk_band": "VARCHAR",
    "explanation": "VARCHAR",
    "drivers": "VARCHAR",
}

#: trust.churn_model (published as meta.churn_model): one row describing the last training.
MODEL_COLUMNS: dict[str, str] = {
    "status": "VARCHAR",
    "reason": "VARCHAR",
    "roc_auc": "DOUBLE",
    "precision_at_top_decile": "DOUBLE",
    "validation_base_rate": "DOUBLE",
    "n_clients": "BIGINT",
    "n_churned": "BIGINT",
    "n_train_rows": "BIGINT",
    "n_validation_rows": "BIGINT",
    "train_from": "DATE",
    "train_to": "DATE",
    "validation_from": "DATE",
    "validation_to": "DATE",
    "top_churn_drivers": "VARCHAR",
    "features": "VARCHAR",
    "model": "VARCHAR",
}


def scores_table(mart: str) -> str:
    return f"{mart}_scores"


def write_table(
    con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, columns: dict[str, str]
) -> None:
    """Replace ``trust.<name>`` with `frame`, cast to the declared column types and order."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    view = f"_trust_{name}_frame"
    casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns.items())
    empty = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in columns.items())
    if frame.empty:
        con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{name} AS SELECT {empty} LIMIT 0")
        return
    con.register(view, frame[list(columns)])
    try:
        con.execute(f"CREATE OR REPLACE TABLE {SCHEMA}.{name} AS SELECT {casts} FROM {view}")
    finally:
        con.unregister(view)
