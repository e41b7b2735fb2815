"""Trust assets: confidence, explanations and review status per mart row; churn risk.

They run after dbt, in the pipeline process (the warehouse's single writer, under its lock),
and write schema ``trust``; the publish asset depends on them and joins their tables onto the
marts (in PostgreSQL mode the snapshot carries them there). Logic lives
in `moatmetrics.trust`; these wrappers only add Dagster metadata.
"""

import json

import dagster as dg

from moatmetrics.marts import MART_NAMES, MONTHS_TABLE, RISK_TABLE
from moatmetrics.settings import get_settings
from moatmetrics.trust import evidence, scoring
from moatmetrics.trust.tables import SCHEMA, scores_table
from moatmetrics.warehouse.connection import warehouse_connection

GROUP = "trust"
SCORE_KEYS = {mart: dg.AssetKey([SCHEMA, scores_table(mart)]) for mart in MART_NAMES}
RISK_KEY = dg.AssetKey([SCHEMA, RISK_TABLE])
FEATURES_KEY = dg.AssetKey(["intermediate", "int_client_months_featured"])
#: Which months are complete: rows of a month in progress are not flagged for review, and
#: churn is scored on the last complete month.
MONTHS_KEY = dg.AssetKey(["marts", MONTHS_TABLE])
TRUST_KEYS = [*SCORE_KEYS.values(), RISK_KEY]


def _scores_asset(mart: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=SCORE_KEYS[mart],
        # The evidence model reads the mart: scores follow mart -> evidence -> scores.
        deps=[dg.AssetKey([evidence.SCHEMA, evidence.model_name(mart)]), MONTHS_KEY],
        group_name=GROUP,
        kinds={"python", "duckdb"},
        description=(
            f"Confidence (five named factors), explanation, drivers and review status of every "
            f"row of marts.{mart}; rows below the review threshold enter the review queue."
        ),
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = get_settings()
        with warehouse_connection(settings) as con:
            run = scoring.run_scores(con, settings, mart)
        context.log.info(
            f"{mart}: {run.needs_review} of {run.rows} rows below {settings.review_threshold}"
        )
        return dg.MaterializeResult(
            metadata={
                "rows": dg.MetadataValue.int(run.rows),
                "rows_scored_anew": dg.MetadataValue.int(run.rescored),
                "needs_review": dg.MetadataValue.int(run.needs_review),
                "review_threshold": dg.MetadataValue.float(settings.review_threshold),
                "mean_confidence": dg.MetadataValue.float(run.mean_confidence or 0.0),
                "review_status": dg.MetadataValue.json(run.review_counts),
                "review_items_created": dg.MetadataValue.int(run.sync.created),
                "review_items_reopened": dg.MetadataValue.int(run.sync.reopened),
                "review_items_resolved": dg.MetadataValue.int(run.sync.resolved),
            }
        )

    return _asset


SCORE_ASSETS = [_scores_asset(mart) for mart in MART_NAMES]


@dg.asset(
    key=RISK_KEY,
    deps=[FEATURES_KEY, MONTHS_KEY],
    group_name=GROUP,
    kinds={"python", "scikitlearn"},
    description=(
        "Churn risk of every current client (gradient boosting on client-month features, "
        "time-based validation, SHAP drivers), published as marts.client_risk; with too "
        "little history, no scores and the reason."
    ),
)
def client_risk(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse_connection(settings) as con:
        result = scoring.run_churn(con)
    model = result.model
    metadata: dict[str, dg.RawMetadataValue] = {
        "status": result.status,
        "retrained": result.retrained,
        "scored_clients": dg.MetadataValue.int(len(result.scores)),
        "n_clients": dg.MetadataValue.int(int(model.get("n_clients") or 0)),
        "n_churned": dg.MetadataValue.int(int(model.get("n_churned") or 0)),
    }
    if result.reason:
        context.log.warning(f"churn risk not scored: {result.reason}")
        metadata["reason"] = result.reason
    else:
        metadata.update(
            {
                "roc_auc": dg.MetadataValue.float(model["roc_auc"]),
                "precision_at_top_decile": dg.MetadataValue.float(model["precision_at_top_decile"]),
                "validation_base_rate": dg.MetadataValue.float(model["validation_base_rate"]),
                "validation_months": f"{model['validation_from']} to {model['validation_to']}",
                "top_churn_drivers": dg.MetadataValue.json(json.loads(model["top_churn_drivers"])),
            }
        )
    return dg.MaterializeResult(metadata=metadata)
