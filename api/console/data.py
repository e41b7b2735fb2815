"""What the console's client pages read from the current snapshot's marts.

Rows of one client come through the marts router's own query code (`api.mart_queries`), so
the console shows exactly what `GET /api/v1/marts/...` serves. The client list is SQL over
the same leased snapshot cursor, with identifiers fixed here, the snapshot's schema and the
back end's parameter marker (`lease.schema`, `lease.dialect`): it runs on a snapshot file
and on a PostgreSQL snapshot schema alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.mart_catalog import (
    ACTIONS,
    ANOMALIES,
    CLIENT_PROFITABILITY,
    CLIENT_RISK,
    FORECASTS,
    LICENSE_UTILIZATION,
    TRENDS,
    MartSpec,
)
from api.mart_queries import build_query, read_page, snapshot_table
from api.problems import invalid_parameter
from api.schemas import (
    ActionRow,
    AnomalyRow,
    ClientProfitabilityRow,
    ClientRiskRow,
    ForecastRow,
    LicenseUtilizationRow,
    TrendRow,
)
from moatmetrics.seam.base import SnapshotLease

#: Sort keys of the client list -> the SQL expression they sort by (a whitelist: the request
#: only ever chooses among these).
CLIENT_SORTS: dict[str, str] = {
    "name": "coalesce(p.client_name, p.client_id)",
    "revenue": "p.revenue",
    "profit": "p.gross_profit",
    "margin": "p.gross_margin",
    "confidence": "p.confidence",
    "risk": "r.churn_risk",
}
MAX_SEARCH = 100


table = snapshot_table  # the console's SQL names the snapshot's tables as the mart pages do


def has(lease: SnapshotLease, mart: str, *columns: str) -> bool:
    present = lease.tables.get(mart)
    return present is not None and all(c in present for c in columns)


def rows(lease: SnapshotLease, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = lease.cursor.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def client_sort(sort: str | None) -> tuple[str, bool]:
    """`name`, `-revenue`... -> (key, descending); a key outside CLIENT_SORTS is a 422."""
    text = (sort or "name").strip()
    descending = text.startswith("-")
    key = text.lstrip("-")
    if key not in CLIENT_SORTS:
        allowed = ", ".join(CLIENT_SORTS)
        raise invalid_parameter("sort", f"{sort!r} is not a sort key; use one of {allowed}")
    return key, descending


def clients(
    lease: SnapshotLease, month: date, sort: str | None = None, search: str | None = None
) -> list[dict[str, Any]]:
    """Every client of `month` with margin, confidence and churn risk, sorted and searched.

    `search` matches part of the client's name or id, whatever the case.
    """
    if not has(lease, "client_profitability", "month", "gross_margin"):
        return []
    key, descending = client_sort(sort)
    mark = lease.dialect.placeholder
    confidence = "p.confidence" if has(lease, "client_profitability", "confidence") else "NULL"
    risk_join = has(lease, "client_risk", "churn_risk", "risk_band")
    risk_cols = (
        "r.churn_risk, r.risk_band" if risk_join else "NULL AS churn_risk, NULL AS risk_band"
    )
    join = f" LEFT JOIN {table(lease, 'client_risk')} r ON r.client_id = p.client_id"
    where = f"p.month = {mark}"
    params: list[Any] = [month]
    text = (search or "").strip().lower()[:MAX_SEARCH]
    if text:
        where += (
            f" AND (strpos(lower(coalesce(p.client_name, '')), {mark}) > 0"
            f" OR strpos(lower(p.client_id), {mark}) > 0)"
        )
        params += [text, text]
    order_by = CLIENT_SORTS[key]
    if (key == "risk" and not risk_join) or (key == "confidence" and confidence == "NULL"):
        order_by = "p.client_id"  # the snapshot has no such column: a stable order
    direction = "DESC" if descending else "ASC"
    return rows(
        lease,
        f"SELECT p.client_id, p.client_name, p.revenue, p.gross_profit, p.gross_margin, "
        f"{confidence} AS confidence, {risk_cols} "
        f"FROM {table(lease, 'client_profitability')} p{join if risk_join else ''} "
        f"WHERE {where} ORDER BY {order_by} {direction} NULLS LAST, p.client_id",
        params,
    )


@dataclass
class ClientView:
    client_id: str
    client_name: str | None
    months: list[ClientProfitabilityRow]
    licenses: list[LicenseUtilizationRow]
    risk: ClientRiskRow | None
    drivers: list[dict[str, Any]]
    trends: list[TrendRow]  # the client's own series in its newest month shown
    forecasts: list[ForecastRow]  # the next three months from the last complete month
    actions: list[ActionRow]  # what to do for this client, largest monthly effect first
    anomalies: list[AnomalyRow]  # its and its licences' unusual months up to the month shown


def _all_rows(
    lease: SnapshotLease, spec: MartSpec, client_id: str, sort: str, month_to: date | None
) -> list[Any]:
    if spec.name not in lease.tables:
        return []
    up_to = month_to.isoformat() if month_to and "month" in spec.column_names else None
    query = build_query(spec, {"client_id": [client_id]}, None, up_to, sort, 10_000, 0)
    return list(read_page(spec, lease, query).rows)


def client(lease: SnapshotLease, client_id: str, month: date | None = None) -> ClientView | None:
    """One client up to `month`: profitability by month, that month's licenses, churn risk.

    None when the client has no row at all in the snapshot; a client whose rows all lie after
    `month` gets an empty history.
    """
    if CLIENT_PROFITABILITY.name not in lease.tables:
        return None
    newest = build_query(
        CLIENT_PROFITABILITY, {"client_id": [client_id]}, None, None, "-month", 1, 0
    )
    found = read_page(CLIENT_PROFITABILITY, lease, newest).rows
    if not found:
        return None
    months = _all_rows(lease, CLIENT_PROFITABILITY, client_id, "month", month)
    licenses = _all_rows(lease, LICENSE_UTILIZATION, client_id, "-month,vendor,product", month)
    risks = _all_rows(lease, CLIENT_RISK, client_id, "client_id", None)
    risk = risks[0] if risks else None
    return ClientView(
        client_id=client_id,
        client_name=found[0].client_name,
        months=months,
        licenses=[row for row in licenses if row.month == licenses[0].month] if licenses else [],
        risk=risk,
        drivers=_drivers(risk.drivers) if risk else [],
        trends=_client_trends(lease, client_id, months[-1].month) if months else [],
        forecasts=_all_rows(lease, FORECASTS, client_id, "metric,forecast_month", None),
        actions=_all_rows(lease, ACTIONS, client_id, "action_rank", None),
        anomalies=_all_rows(lease, ANOMALIES, client_id, "-month,-score", month),
    )


def _client_trends(lease: SnapshotLease, client_id: str, month: date) -> list[TrendRow]:
    """The client's series (margin, revenue, hours, rate, waste, leakage) in `month`; none in
    a snapshot published before marts.trends existed."""
    if TRENDS.name not in lease.tables:
        return []
    shown = month.isoformat()
    filters = {"client_id": [client_id], "entity_type": ["client"]}
    query = build_query(TRENDS, filters, shown, shown, "metric", 100, 0)
    return list(read_page(TRENDS, lease, query).rows)


def _drivers(text: str, top: int = 6) -> list[dict[str, Any]]:
    """The features that move the churn risk most (largest absolute SHAP value first)."""
    try:
        features = json.loads(text).get("features", [])
    except (ValueError, AttributeError):
        return []
    features = [f for f in features if isinstance(f, dict) and f.get("shap") is not None]
    features.sort(key=lambda f: abs(float(f["shap"])), reverse=True)
    return features[:top]
