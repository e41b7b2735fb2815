"""Insight assets: the ranked action list (after the trust scores it carries) and the forecasts
(after the marts), both before publish.

Logic lives in `moatmetrics.insights`; this wrapper only adds Dagster metadata.
"""

import dagster as dg

from moatmetrics.insights.actions import run_actions
from moatmetrics.insights.forecasts import run_forecasts
from moatmetrics.marts import ACTIONS_TABLE, FORECASTS_TABLE, INSIGHTS_SCHEMA
from moatmetrics.settings import get_settings
from moatmetrics.warehouse.connection import warehouse_connection
from orchestration.assets.trust import MONTHS_KEY, RISK_KEY, SCORE_KEYS

ACTIONS_KEY = dg.AssetKey([INSIGHTS_SCHEMA, ACTIONS_TABLE])
FORECASTS_KEY = dg.AssetKey([INSIGHTS_SCHEMA, FORECASTS_TABLE])


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
        }
    )
