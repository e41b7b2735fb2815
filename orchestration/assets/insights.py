"""Insight assets: the ranked action list (after the trust scores it carries), the forecasts
(after the marts) and the anomalies (after the trust scores, whose factors give their
confidence), all before publish.

Logic lives in `moatmetrics.insights`; this wrapper only adds Dagster metadata.
"""

import dagster as dg

from moatmetrics.insights.actions import run_actions
from moatmetrics.insights.anomalies import run_anomalies, sync_reviews
from moatmetrics.insights.forecasts import run_forecasts
from moatmetrics.marts import ACTIONS_TABLE, ANOMALIES_TABLE, FORECASTS_TABLE, INSIGHTS_SCHEMA
from moatmetrics.settings import get_settings
from moatmetrics.warehouse.connection import warehouse_connection
from orchestration.assets.trust import MONTHS_KEY, RISK_KEY, SCORE_KEYS

ACTIONS_KEY = dg.AssetKey([INSIGHTS_SCHEMA, ACTIONS_TABLE])
FORECASTS_KEY = dg.AssetKey([INSIGHTS_SCHEMA, FORECASTS_TABLE])
ANOMALIES_KEY = dg.AssetKey([INSIGHTS_SCHEMA, ANOMALIES_TABLE])
#: The work-type detail anomalies name as drivers (dbt intermediate models).
WORK_TYPE_KEYS = [
    dg.AssetKey(["intermediate", name])
    for name in ("int_client_work_types_summarized", "int_staff_work_types_summarized")
]


@dg.asset(
    key=ACTIONS_KEY,
    deps=[
        SCORE_KEYS["license_utilization"],
        SCORE_KEYS["client_profitability"],
        SCORE_KEYS["staff_utilization"],
        RISK_KEY,
        MONTHS_KEY,
    ],
    group_name="insights",
    kinds={"python", "duckdb"},
    description=(
        "The action list of the last complete month, ranked by monthly money effect: reclaim "
        "unused seats, bill unbilled seats, reprice clients under the target margin, follow "
        "up clients at risk of leaving, rebalance overloaded technicians; each with its "
        "confidence, a sentence and the mart rows it comes from. Published as marts.actions."
    ),
)
def actions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse_connection(settings) as con:
        run = run_actions(con, settings)
    context.log.info(
        f"{sum(run.counts.values())} actions for {run.month}: ${run.monthly_effect:,.0f} a month"
    )
    return dg.MaterializeResult(
        metadata={
            "month": run.month or "",
            "actions": dg.MetadataValue.json(run.counts),
            "monthly_effect": dg.MetadataValue.float(run.monthly_effect),
            "target_margin": dg.MetadataValue.float(settings.target_margin),
        }
    )


@dg.asset(
    key=FORECASTS_KEY,
    deps=[SCORE_KEYS["client_profitability"], SCORE_KEYS["staff_utilization"], MONTHS_KEY],
    group_name="insights",
    kinds={"python", "duckdb"},
    description=(
        "The next 3 months from the last complete month: labour hours and revenue per client, "
        "billable hours and capacity per staff member, and the team's client work against its "
        "capacity; each series backtested from 6 rolling origins, its MASE against the "
        "seasonal-naive forecast and an 80% interval beside the forecast. Published as "
        "marts.forecasts."
    ),
)
def forecasts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with warehouse_connection(get_settings()) as con:
        run = run_forecasts(con)
    context.log.info(
        f"{run.series} series forecast from {run.origin_month}, {run.too_little_history} with "
        f"too little history; median MASE {run.median_mase}"
    )
    return dg.MaterializeResult(
        metadata={
            "origin_month": run.origin_month or "",
            "series": run.series,
            "too_little_history": run.too_little_history,
            "median_mase": dg.MetadataValue.json(run.median_mase),
            "first_shortfall": run.first_shortfall or "",
            # False: no month up to the origin changed, the last run's table was kept
            "recomputed": run.recomputed,
        }
    )


@dg.asset(
    key=ANOMALIES_KEY,
    deps=[*SCORE_KEYS.values(), MONTHS_KEY, *WORK_TYPE_KEYS],
    group_name="insights",
    kinds={"python", "duckdb"},
    description=(
        "Months that depart from their own last 12 months and from their peers: hours spikes, "
        "revenue drops and margin collapses per client, jumps in unused or unbilled seats per "
        "licence, staff logging far more than usual; each with its usual range, robust score, "
        "severity, confidence and drivers. The last 3 complete months' anomalies enter the "
        "review queue. Published as marts.anomalies."
    ),
)
def anomalies(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = get_settings()
    with warehouse_connection(settings) as con:
        run = run_anomalies(con)
        review = sync_reviews(con, settings)
    context.log.info(
        f"{sum(run.counts.values())} anomalies over {run.months_checked} months, "
        f"{run.in_review} in the review window"
        + ("" if run.recomputed else " (kept: no complete month's inputs changed)")
    )
    return dg.MaterializeResult(
        metadata={
            "last_month": run.last_month or "",
            "months_checked": run.months_checked,
            "anomalies": dg.MetadataValue.json(run.counts),
            "in_review": run.in_review,
            # False: no complete month's inputs changed, the last run's table was kept
            "recomputed": run.recomputed,
            "review_sync": dg.MetadataValue.json(review.counts()),
        }
    )
