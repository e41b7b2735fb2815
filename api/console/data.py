"""What the console's pages show, read from the current snapshot's marts.

Rows of one client come through the marts router's own query code (`api.mart_queries`), so
the console shows exactly what `GET /api/v1/marts/...` serves. The portfolio totals are
aggregates the API has no endpoint for; they are SQL over the same leased snapshot cursor,
with identifiers fixed here and every value a bound parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from api.mart_catalog import CLIENT_PROFITABILITY, CLIENT_RISK, LICENSE_UTILIZATION, MartSpec
from api.mart_queries import build_query, read_page
from api.schemas import ClientProfitabilityRow, ClientRiskRow, LicenseUtilizationRow
from api.snapshot_store import SnapshotLease

TOP = 10


@dataclass(frozen=True)
class MonthTotals:
    month: date
    revenue: Decimal
    total_cost: Decimal
    gross_profit: Decimal
    gross_margin: float | None
    waste: Decimal
    leakage: Decimal
    utilization: float | None


@dataclass
class Overview:
    snapshot_id: str
    months: list[MonthTotals]
    least_profitable: list[dict[str, Any]] = field(default_factory=list)
    license_savings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latest(self) -> MonthTotals | None:
        return self.months[-1] if self.months else None


def _has(lease: SnapshotLease, mart: str, *columns: str) -> bool:
    present = lease.tables.get(mart)
    return present is not None and all(c in present for c in columns)


def _rows(lease: SnapshotLease, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = lease.cursor.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def overview(lease: SnapshotLease) -> Overview:
    """Portfolio per month, the least profitable clients and the largest license savings."""
    result = Overview(lease.snapshot.snapshot_id, [])
    if not _has(lease, "client_profitability", "month", "revenue", "gross_profit"):
        return result
    profit = _rows(
        lease,
        "SELECT month, sum(revenue) AS revenue, sum(total_cost) AS total_cost, "
        "sum(gross_profit) AS gross_profit FROM marts.client_profitability "
        "GROUP BY month ORDER BY month",
        [],
    )
    licenses: dict[date, dict[str, Any]] = {}
    if _has(lease, "license_utilization", "monthly_waste", "monthly_leakage"):
        licenses = {
            r["month"]: r
            for r in _rows(
                lease,
                "SELECT month, sum(monthly_waste) AS waste, "
                "coalesce(sum(monthly_leakage), 0) AS leakage "
                "FROM marts.license_utilization GROUP BY month",
                [],
            )
        }
    staff: dict[date, float | None] = {}
    if _has(lease, "staff_utilization", "billable_hours", "available_hours"):
        staff = {
            r["month"]: r["utilization"]
            for r in _rows(
                lease,
                "SELECT month, sum(billable_hours) / nullif(sum(available_hours), 0) "
                "AS utilization FROM marts.staff_utilization "
                "WHERE available_hours IS NOT NULL GROUP BY month",
                [],
            )
        }
    for row in profit:
        revenue = row["revenue"] or Decimal(0)
        gross = row["gross_profit"] or Decimal(0)
        lic = licenses.get(row["month"], {})
        result.months.append(
            MonthTotals(
                month=row["month"],
                revenue=revenue,
                total_cost=row["total_cost"] or Decimal(0),
                gross_profit=gross,
                gross_margin=float(gross / revenue) if revenue > 0 else None,
                waste=lic.get("waste") or Decimal(0),
                leakage=lic.get("leakage") or Decimal(0),
                utilization=_float(staff.get(row["month"])),
            )
        )
    latest = result.months[-1].month if result.months else None
    if latest is None:
        return result
    result.least_profitable = _rows(
        lease,
        "SELECT client_id, client_name, revenue, gross_profit, gross_margin, confidence "
        "FROM marts.client_profitability WHERE month = ? "
        "ORDER BY gross_profit ASC, client_id LIMIT ?",
        [latest, TOP],
    ) if _has(lease, "client_profitability", "confidence", "gross_margin") else []  # fmt: skip
    if licenses:
        # The license mart has no client names; the same month's profitability row has.
        result.license_savings = _rows(
            lease,
            "SELECT l.client_id, p.client_name, l.vendor, l.product, l.unused_seats, "
            "l.unbilled_seats, coalesce(l.monthly_waste, 0) + coalesce(l.monthly_leakage, 0) "
            "AS savings, l.recommendation FROM marts.license_utilization l "
            "LEFT JOIN marts.client_profitability p ON p.client_id = l.client_id "
            "AND p.month = l.month WHERE l.month = ? AND savings > 0 "
            "ORDER BY savings DESC, l.client_id, l.product LIMIT ?",
            [latest, TOP],
        )
    return result


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def clients(lease: SnapshotLease) -> list[dict[str, Any]]:
    """Every client of the latest month with its margin and churn risk, by name."""
    if not _has(lease, "client_profitability", "month", "gross_margin"):
        return []
    risk_join = _has(lease, "client_risk", "churn_risk", "risk_band")
    risk_cols = "r.churn_risk, r.risk_band"
    if not risk_join:
        risk_cols = "NULL AS churn_risk, NULL AS risk_band"
    join = " LEFT JOIN marts.client_risk r USING (client_id)" if risk_join else ""
    return _rows(
        lease,
        f"SELECT p.client_id, p.client_name, p.revenue, p.gross_profit, p.gross_margin, "
        f"{risk_cols} FROM marts.client_profitability p{join} "
        "WHERE p.month = (SELECT max(month) FROM marts.client_profitability) "
        "ORDER BY p.client_name NULLS LAST, p.client_id",
        [],
    )


@dataclass
class ClientView:
    client_id: str
    client_name: str | None
    months: list[ClientProfitabilityRow]
    licenses: list[LicenseUtilizationRow]
    risk: ClientRiskRow | None
    drivers: list[dict[str, Any]]


def _all_rows(lease: SnapshotLease, spec: MartSpec, client_id: str, sort: str) -> list[Any]:
    if spec.name not in lease.tables:
        return []
    query = build_query(spec, {"client_id": [client_id]}, None, None, sort, 10_000, 0)
    return list(read_page(spec, lease, query).rows)


def client(lease: SnapshotLease, client_id: str) -> ClientView | None:
    """One client: profitability by month, latest licenses, churn risk and its drivers."""
    months = _all_rows(lease, CLIENT_PROFITABILITY, client_id, "month")
    if not months:
        return None
    licenses = _latest_licenses(lease, client_id)
    risks = _all_rows(lease, CLIENT_RISK, client_id, "client_id")
    risk = risks[0] if risks else None
    return ClientView(
        client_id=client_id,
        client_name=months[-1].client_name,
        months=months,
        licenses=licenses,
        risk=risk,
        drivers=_drivers(risk.drivers) if risk else [],
    )


def _latest_licenses(lease: SnapshotLease, client_id: str) -> list[LicenseUtilizationRow]:
    rows = _all_rows(lease, LICENSE_UTILIZATION, client_id, "-month,vendor,product")
    return [row for row in rows if row.month == rows[0].month] if rows else []


def _drivers(text: str, top: int = 6) -> list[dict[str, Any]]:
    """The features that move the churn risk most (largest absolute SHAP value first)."""
    try:
        features = json.loads(text).get("features", [])
    except (ValueError, AttributeError):
        return []
    features = [f for f in features if isinstance(f, dict) and f.get("shap") is not None]
    features.sort(key=lambda f: abs(float(f["shap"])), reverse=True)
    return features[:top]
