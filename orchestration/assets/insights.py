"""Insight assets: the ranked action list, after the trust scores it carries and before publish.

Logic lives in `moatmetrics.insights`; this wrapper only adds Dagster metadata.
"""

import dagster as dg

from moatmetrics.insights.actions import run_actions
from moatmetrics.marts import ACTIONS_TABLE, INSIGHTS_SCHEMA
from moatmetrics.settings import get_settings
from moatmetrics.warehouse.connection import warehouse_connection
from orchestration.assets.trust import MONTHS_KEY, RISK_KEY, SCORE_KEYS

ACTIONS_KEY = dg.AssetKey([INSIGHTS_SCHEMA, ACTIONS_TABLE])


@dg.asset(
    key=ACTIONS_KEY,
    deps=[
        SCORE_KEYS["license_utilization"],
        SCORE_KEYS["client_profitability"],
        RISK_KEY,
        MONTHS_KEY,
    ],
    group_name="insights",
    kinds={"python", "duckdb"},
    description=(
        "The action list of the last complete month, ranked by monthly money effect: reclaim "
        "unused seats, bill unbilled seats, reprice clients under the target margin, follow "
        "up clients at risk of leaving; each with its confidence, a sentence and the mart "
        "rows it comes from. Published as marts.actions."
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
