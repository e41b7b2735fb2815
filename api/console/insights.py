"""The insights page's numbers: what changed, what is unusual, how it compares, what is coming,
what to do first.

Rows come through the marts router's own query code (`api.mart_queries`), so the page shows
what `GET /api/v1/marts/trends|anomalies|forecasts|actions` serve; the forecast accuracy
summary is one aggregate over the leased snapshot (`api.console.data.rows`), portable SQL that
runs on a snapshot file and on a PostgreSQL snapshot schema alike. All of it is the
portfolio's, so the page is not open to a client-scoped caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from api.console.data import has, rows, table
from api.mart_catalog import ACTIONS, ANOMALIES, BENCHMARKS, FORECASTS, TRENDS, MartSpec
from api.mart_queries import build_query, read_page
from api.schemas import ActionRow, AnomalyRow, BenchmarkRow, ForecastRow, TrendRow
from moatmetrics.seam.base import SnapshotLease

#: Client series listed under "getting worse" and actions listed under "what to do".
TOP = 10


@dataclass
class InsightsView:
    month: date | None  # the month the trends are shown for
    portfolio: list[TrendRow]  # the portfolio's series in that month
    worsening: list[TrendRow]  # client series worsening in that month, most trusted first
    worsening_count: int
    anomalies: list[AnomalyRow]  # the month's anomalies, highest score first
    anomalies_count: int
    team: list[ForecastRow]  # the team's client work against its capacity, month by month
    accuracy: list[dict[str, Any]]  # per forecast metric: series, median MASE, beating naive
    actions: list[ActionRow]  # the first TOP actions
    actions_count: int
    benchmarks: list[BenchmarkRow]  # the month's figures beside the sourced reference bands


def _page(
    lease: SnapshotLease, spec: MartSpec, filters: dict[str, list[str]], month: date | None,
    sort: str, limit: int,
) -> tuple[list[Any], int]:  # fmt: skip
    if spec.name not in lease.tables:
        return [], 0
    shown = month.isoformat() if month else None
    page = read_page(spec, lease, build_query(spec, filters, shown, shown, sort, limit, 0))
    return list(page.rows), page.total


def _accuracy(lease: SnapshotLease) -> list[dict[str, Any]]:
    """Per client and staff forecast metric: series forecast, those with too little history,
    the median MASE and how many beat the seasonal-naive forecast (one row per series)."""
    if not has(lease, FORECASTS.name, "mase", "status", "horizon"):
        return []
    return rows(
        lease,
        f"SELECT entity_type, metric, min(label) AS label,"
        f" count(*) FILTER (WHERE status = 'forecast') AS series,"
        f" count(*) FILTER (WHERE status <> 'forecast') AS too_little_history,"
        f" count(mase) AS with_mase,"
        f" percentile_cont(0.5) WITHIN GROUP (ORDER BY mase) AS median_mase,"
        f" count(*) FILTER (WHERE mase < 1) AS beating_naive"
        f" FROM {table(lease, FORECASTS.name)}"
        f" WHERE horizon = 1 AND entity_type IN ('client', 'staff')"
        f" GROUP BY entity_type, metric ORDER BY entity_type, metric",
        [],
    )


def insights(lease: SnapshotLease, month: date | None) -> InsightsView:
    """The insights of `month` (the trends'; forecasts and actions are of the last complete
    month, as published)."""
    portfolio, _ = _page(lease, TRENDS, {"entity_type": ["portfolio"]}, month, "metric", 100)
    worsening, worsening_count = _page(
        lease, TRENDS, {"entity_type": ["client"], "direction": ["worsening"]}, month,
        "-confidence,metric,entity_key", TOP,
    )  # fmt: skip
    team, _ = _page(
        lease, FORECASTS, {"entity_type": ["team"], "metric": ["capacity_gap"]}, None,
        "forecast_month", 10,
    )  # fmt: skip
    actions, actions_count = _page(lease, ACTIONS, {}, None, "action_rank", TOP)
    anomalies, anomalies_count = _page(lease, ANOMALIES, {}, month, "-score,entity_key", TOP)
    return InsightsView(
        month=month,
        portfolio=portfolio,
        worsening=worsening,
        worsening_count=worsening_count,
        anomalies=anomalies,
        anomalies_count=anomalies_count,
        team=team,
        accuracy=_accuracy(lease),
        actions=actions,
        actions_count=actions_count,
        benchmarks=_page(lease, BENCHMARKS, {}, month, "metric,band", 100)[0],
    )
