"""The overview's numbers: portfolio totals by month, changes, client lists, heatmap, savings.

Portfolio totals are aggregates the API has no endpoint for; they are SQL over the leased
snapshot (`api.console.data.table`, the back end's parameter marker), so the same queries run
on a snapshot file and on a PostgreSQL snapshot schema. The client lists split one month's
clients into three groups an owner acts on differently:

- losing money: gross profit below zero and confidence at or above the review threshold;
- probably missing data: confidence below the threshold, or no revenue although hours were
  logged (named by what is missing: the trust layer's weakest factor);
- healthy: everything else (profit at or above zero, trusted numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from api.console import wording
from api.console.data import has, rows, table
from api.console.templating import money, month
from moatmetrics.seam.base import SnapshotLease
from moatmetrics.trust.tables import FACTOR_COLUMNS

TOP = 10
#: Months of the heatmap (ending with the month shown) and its most clients (worst first).
HEATMAP_MONTHS = 12
HEATMAP_CLIENTS = 40


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


@dataclass(frozen=True)
class Change:
    """One measure against an earlier month, as a short text ('+$1,204 (+3 %)')."""

    against: str  # 'Aug 2026'
    text: str
    direction: str  # up, down, flat or none


@dataclass
class ClientLists:
    losing: list[dict[str, Any]] = field(default_factory=list)
    missing_data: list[dict[str, Any]] = field(default_factory=list)
    healthy: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class HeatCell:
    margin: float | None
    low_confidence: bool
    band: str  # loss, thin, fair, good, none


@dataclass
class Heatmap:
    months: list[date]
    clients: list[tuple[dict[str, Any], list[HeatCell]]]
    total_clients: int


@dataclass
class Overview:
    snapshot_id: str
    months: list[MonthTotals]
    shown: MonthTotals | None = None
    changes: dict[str, list[Change]] = field(default_factory=dict)
    lists: ClientLists = field(default_factory=ClientLists)
    heatmap: Heatmap | None = None
    license_savings: list[dict[str, Any]] = field(default_factory=list)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def month_totals(lease: SnapshotLease) -> list[MonthTotals]:
    """Portfolio revenue, cost, margin, license waste and leakage, utilisation per month."""
    if not has(lease, "client_profitability", "month", "revenue", "gross_profit"):
        return []
    profit = rows(
        lease,
        "SELECT month, sum(revenue) AS revenue, sum(total_cost) AS total_cost, "
        f"sum(gross_profit) AS gross_profit FROM {table(lease, 'client_profitability')} "
        "GROUP BY month ORDER BY month",
        [],
    )
    licenses: dict[date, dict[str, Any]] = {}
    if has(lease, "license_utilization", "monthly_waste", "monthly_leakage"):
        licenses = {
            r["month"]: r
            for r in rows(
                lease,
                "SELECT month, sum(monthly_waste) AS waste, "
                "coalesce(sum(monthly_leakage), 0) AS leakage "
                f"FROM {table(lease, 'license_utilization')} GROUP BY month",
                [],
            )
        }
    staff: dict[date, Any] = {}
    if has(lease, "staff_utilization", "billable_hours", "available_hours"):
        staff = {
            r["month"]: r["utilization"]
            for r in rows(
                lease,
                "SELECT month, sum(billable_hours) / nullif(sum(available_hours), 0) "
                f"AS utilization FROM {table(lease, 'staff_utilization')} "
                "WHERE available_hours IS NOT NULL GROUP BY month",
                [],
            )
        }
    totals = []
    for row in profit:
        revenue = row["revenue"] or Decimal(0)
        gross = row["gross_profit"] or Decimal(0)
        lic = licenses.get(row["month"], {})
        totals.append(
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
    return totals


def _shift(value: date, months: int) -> date:
    index = value.year * 12 + value.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _direction(delta: float) -> str:
    return "up" if delta > 0 else "down" if delta < 0 else "flat"


def _money_change(now: Decimal, before: Decimal) -> tuple[str, str]:
    delta = now - before
    sign = "+" if delta > 0 else ""
    relative = f" ({sign}{float(delta / before) * 100:.0f} %)" if before else ""
    return f"{sign}{money(delta)}{relative}", _direction(float(delta))


def _points_change(now: float | None, before: float | None) -> tuple[str, str]:
    if now is None or before is None:
        return "–", "none"
    delta = (now - before) * 100
    sign = "+" if delta > 0 else ""
    return f"{sign}{delta:.1f} pts", _direction(round(delta, 1))


def changes(totals: list[MonthTotals], shown: MonthTotals) -> dict[str, list[Change]]:
    """Revenue, margin, utilisation, waste and leakage against the month before and the same
    month a year before (when the data has them)."""
    by_month = {t.month: t for t in totals}
    result: dict[str, list[Change]] = {
        k: [] for k in ("revenue", "gross_margin", "utilization", "waste", "leakage")
    }
    for back in (1, 12):
        before = by_month.get(_shift(shown.month, back))
        if before is None:
            continue
        against = month(before.month)
        for name in ("revenue", "waste", "leakage"):
            text, direction = _money_change(getattr(shown, name), getattr(before, name))
            result[name].append(Change(against, text, direction))
        for name in ("gross_margin", "utilization"):
            text, direction = _points_change(getattr(shown, name), getattr(before, name))
            result[name].append(Change(against, text, direction))
    return result


def client_lists(lease: SnapshotLease, shown: date, threshold: float) -> ClientLists:
    """Every client of the month in exactly one of the three lists (module docstring)."""
    lists = ClientLists()
    if not has(lease, "client_profitability", "confidence", "labor_hours"):
        return lists
    present = lease.tables["client_profitability"]
    factors = ", ".join(c if c in present else f"NULL AS {c}" for c in FACTOR_COLUMNS)
    mark = lease.dialect.placeholder
    found = rows(
        lease,
        "SELECT client_id, client_name, revenue, gross_profit, gross_margin, labor_hours, "
        f"confidence, {factors} FROM {table(lease, 'client_profitability')} "
        f"WHERE month = {mark} ORDER BY client_id",
        [shown],
    )
    for row in found:
        no_invoice = (row["revenue"] or 0) == 0 and (row["labor_hours"] or 0) > 0
        if no_invoice or row["confidence"] is None or row["confidence"] < threshold:
            row["missing"] = wording.missing_data(row)
            lists.missing_data.append(row)
        elif row["gross_profit"] < 0:
            lists.losing.append(row)
        else:
            lists.healthy.append(row)
    lists.losing.sort(key=lambda r: (r["gross_profit"], r["client_id"]))
    lists.missing_data.sort(key=lambda r: (r["confidence"] or 0, r["client_id"]))
    lists.healthy.sort(key=lambda r: (-r["gross_profit"], r["client_id"]))
    return lists


def _band(margin: float | None) -> str:
    if margin is None:
        return "none"
    if margin < 0:
        return "loss"
    if margin < 0.2:
        return "thin"
    if margin < 0.4:
        return "fair"
    return "good"


def heatmap(lease: SnapshotLease, shown: date, threshold: float) -> Heatmap | None:
    """Gross margin by client and month, the 12 months up to `shown`; the clients of `shown`,
    lowest margin first (at most HEATMAP_CLIENTS)."""
    if not has(lease, "client_profitability", "gross_margin", "confidence"):
        return None
    mark = lease.dialect.placeholder
    first = _shift(shown, HEATMAP_MONTHS - 1)
    found = rows(
        lease,
        "SELECT client_id, client_name, month, gross_margin, confidence "
        f"FROM {table(lease, 'client_profitability')} "
        f"WHERE month >= {mark} AND month <= {mark} ORDER BY client_id, month",
        [first, shown],
    )
    months = sorted({r["month"] for r in found})
    cells: dict[str, dict[date, dict[str, Any]]] = {}
    for r in found:
        cells.setdefault(r["client_id"], {})[r["month"]] = r
    current = [by_month[shown] for by_month in cells.values() if shown in by_month]

    def worst_first(r: dict[str, Any]) -> tuple[bool, float, str]:
        margin = r["gross_margin"]
        return (margin is None, float(margin) if margin is not None else 0.0, r["client_id"])

    current.sort(key=worst_first)
    result = Heatmap(months, [], len(current))
    for r in current[:HEATMAP_CLIENTS]:
        line = []
        for m in months:
            cell = cells[r["client_id"]].get(m)
            margin = _float(cell["gross_margin"]) if cell else None
            low = bool(cell and cell["confidence"] is not None and cell["confidence"] < threshold)
            line.append(HeatCell(margin, low, _band(margin)))
        result.clients.append((r, line))
    return result


def license_savings(lease: SnapshotLease, shown: date) -> list[dict[str, Any]]:
    """The month's largest license waste plus leakage, with the action in words."""
    if not has(lease, "license_utilization", "monthly_waste", "monthly_leakage"):
        return []
    mark = lease.dialect.placeholder
    savings = "coalesce(l.monthly_waste, 0) + coalesce(l.monthly_leakage, 0)"
    # The license mart has no client names; the same month's profitability row has.
    found = rows(
        lease,
        "SELECT l.client_id, p.client_name, l.vendor, l.product, l.seats_purchased, "
        "l.seats_assigned, l.unused_seats, l.unbilled_seats, l.monthly_waste, "
        f"l.monthly_leakage, {savings} AS savings, l.recommendation "
        f"FROM {table(lease, 'license_utilization')} l "
        f"LEFT JOIN {table(lease, 'client_profitability')} p "
        "ON p.client_id = l.client_id AND p.month = l.month "
        f"WHERE l.month = {mark} AND {savings} > 0 "
        f"ORDER BY savings DESC, l.client_id, l.product LIMIT {mark}",
        [shown, TOP],
    )
    for row in found:
        row["action"] = wording.recommendation(row)
    return found


def overview(lease: SnapshotLease, shown: date | None, threshold: float) -> Overview:
    """Everything the overview shows for month `shown` (None: no data yet)."""
    totals = month_totals(lease)
    result = Overview(lease.snapshot.snapshot_id, [t for t in totals if shown and t.month <= shown])
    current = next((t for t in totals if t.month == shown), None)
    if shown is None or current is None:
        return result
    result.shown = current
    result.changes = changes(totals, current)
    result.lists = client_lists(lease, shown, threshold)
    result.heatmap = heatmap(lease, shown, threshold)
    result.license_savings = license_savings(lease, shown)
    return result
