"""The mart registry: which marts the product publishes and the columns that identify a row.

One place for the list that dbt builds (`dbt_project/models/marts`), the trust layer scores,
snapshots publish and the console filters on. A new mart is added here, as a dbt model, and in
the API's catalog (`api/mart_catalog.py`, its description and row schema); see CONTRIBUTING.md.
"""

from __future__ import annotations

#: The scored dbt marts and their grain, in publishing order.
GRAINS: dict[str, tuple[str, ...]] = {
    "client_profitability": ("client_id", "month"),
    "license_utilization": ("client_id", "vendor", "product", "month"),
    "staff_utilization": ("staff_id", "month"),
}
MART_NAMES: tuple[str, ...] = tuple(GRAINS)
#: The churn-risk scores, published beside the marts.
RISK_TABLE = "client_risk"
#: Which months are complete (every source that usually reports has reported): a dbt mart
#: published as it is, without trust columns; the trust layer and the console read it.
MONTHS_TABLE = "month_completeness"
#: Where each client, staff member, license and the portfolio stands and is heading, month by
#: month: a dbt mart with its own confidence and explanation columns, published as it is.
TRENDS_TABLE = "trends"
#: dbt marts published as they are (no trust layer columns), with the grain they are sorted by.
#: The MSP's figures beside sourced industry reference bands (reference.benchmark_bands).
BENCHMARKS_TABLE = "benchmarks"
UNSCORED_GRAINS: dict[str, tuple[str, ...]] = {
    MONTHS_TABLE: ("month",),
    TRENDS_TABLE: ("entity_type", "entity_key", "metric", "month"),
    BENCHMARKS_TABLE: ("month", "metric", "band"),
}
#: The ranked action list (`moatmetrics.insights.actions`, after the trust layer), written to
#: insights.actions and published beside the marts.
ACTIONS_TABLE = "actions"
#: The next three months' forecasts with their backtested accuracy
#: (`moatmetrics.insights.forecasts`), written to insights.forecasts.
FORECASTS_TABLE = "forecasts"
#: Months that depart from their own history and their peers, with their drivers
#: (`moatmetrics.insights.anomalies`), written to insights.anomalies.
ANOMALIES_TABLE = "anomalies"
INSIGHTS_SCHEMA = "insights"
#: Insight tables (Python assets, schema insights) published as they are, with their order.
INSIGHT_ORDERS: dict[str, tuple[str, ...]] = {
    ACTIONS_TABLE: ("action_rank",),
    FORECASTS_TABLE: ("entity_type", "entity_key", "metric", "forecast_month"),
    ANOMALIES_TABLE: ("month", "entity_type", "entity_key", "metric"),
}
#: Every mart dbt builds: the scored ones, the calendar of complete months and the trends.
DBT_MARTS: tuple[str, ...] = (*MART_NAMES, *UNSCORED_GRAINS)
#: Published marts: the dbt marts (with their trust columns), the churn-risk scores, the
#: calendar of complete months, the trends, the action list, the forecasts and the anomalies.
PUBLISHED_MARTS: tuple[str, ...] = (*MART_NAMES, RISK_TABLE, *UNSCORED_GRAINS, *INSIGHT_ORDERS)
