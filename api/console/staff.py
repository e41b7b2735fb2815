"""What the staff page reads: who is overloaded, and who is over or under their billable target.

Rows come from `marts.staff_utilization` through the marts router's own query code
(`api.mart_queries`), so the page shows what `GET /api/v1/marts/staff_utilization` serves, in
DuckDB and PostgreSQL mode alike. Sorting and searching happen here, over the month's rows (one
row per staff member: a short list).

Words used on the page, from the mart's columns (docs/metrics.md):

- capacity = `available_hours`; share of capacity = `logged_ratio`; hours over capacity =
  `overtime_hours`; overloaded = band `overloaded` (logged more than 110 % of capacity);
- billable target = (`capacity_gap_hours` + `billable_hours`) / `available_hours` (the mart
  stores the gap, `available_hours x billable_target - billable_hours`); under target = a
  positive gap (hours short of target), over target = a negative one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from api.mart_catalog import STAFF_UTILIZATION
from api.mart_queries import build_query, read_page
from api.schemas import StaffUtilizationRow
from moatmetrics.seam.base import SnapshotLease

Sort = Literal[
    "-logged_ratio", "staff_name", "-overtime_hours", "-utilization", "utilization",
    "-capacity_gap_hours",
]  # fmt: skip
#: The staff list's orders, as offered on the page.
SORTS: dict[str, str] = {
    "-logged_ratio": "Share of capacity, highest first",
    "-overtime_hours": "Hours over capacity, most first",
    "-capacity_gap_hours": "Hours short of billable target, most first",
    "-utilization": "Billable utilisation, highest first",
    "utilization": "Billable utilisation, lowest first",
    "staff_name": "Name",
}
Show = Literal["", "overloaded", "over_target", "under_target"]
SHOWS: dict[str, str] = {
    "": "Everyone",
    "overloaded": "Overloaded (over 110 % of capacity)",
    "under_target": "Under billable target",
    "over_target": "At or over billable target",
}
_ALL = 100_000


@dataclass(frozen=True)
class StaffMonth:
    """One staff member in one month, with the words the page says about it."""

    row: StaffUtilizationRow

    @property
    def name(self) -> str:
        return self.row.staff_name or self.row.staff_id

    @property
    def target(self) -> float | None:
        r = self.row
        if r.capacity_gap_hours is None or not r.available_hours:
            return None
        return float((r.capacity_gap_hours + r.billable_hours) / r.available_hours)

    @property
    def overloaded(self) -> bool:
        return self.row.band == "overloaded"

    @property
    def under_target(self) -> bool:
        return self.row.capacity_gap_hours is not None and self.row.capacity_gap_hours > 0

    @property
    def over_target(self) -> bool:
        return self.row.capacity_gap_hours is not None and self.row.capacity_gap_hours <= 0

    def capacity_sentence(self) -> str:
        """ "Dana is at 118 % of capacity in September 2026: 22 h over"."""
        r = self.row
        when = r.month.strftime("%B %Y")
        if r.available_hours is None:
            return (
                f"{self.name} has no contract in the staff file, so capacity in {when} is "
                f"unknown; {_hours(r.logged_hours)} logged."
            )
        if r.available_hours == 0 or r.logged_ratio is None:
            return f"{self.name} has no available hours in {when}; {_hours(r.logged_hours)} logged."
        share = f"{self.name} is at {float(r.logged_ratio) * 100:.0f} % of capacity in {when}"
        over = r.overtime_hours or Decimal(0)
        if over > 0:
            return f"{share}: {_hours(over)} over."
        return f"{share}: {_hours(r.available_hours - r.logged_hours)} spare."

    def target_sentence(self) -> str:
        r = self.row
        if self.target is None or r.capacity_gap_hours is None or r.utilization is None:
            return "No billable target known."
        share = (
            f"Billable {float(r.utilization) * 100:.0f} % against a target of "
            f"{self.target * 100:.0f} %"
        )
        gap = r.capacity_gap_hours
        if gap > 0:
            return f"{share}: {_hours(gap)} short of target."
        return f"{share}: {_hours(-gap)} above target."


def _hours(value: Decimal) -> str:
    if 0 < abs(value) < Decimal("0.5"):
        return "under 1 h"  # not "0 h over"
    return f"{float(value):,.0f} h"


def _rows(
    lease: SnapshotLease, filters: dict[str, list[str]], month: date | None
) -> list[StaffMonth]:
    if STAFF_UTILIZATION.name not in lease.tables:
        return []
    text = month.isoformat() if month else None
    query = build_query(STAFF_UTILIZATION, filters, text, text, "month", _ALL, 0)
    return [StaffMonth(row) for row in read_page(STAFF_UTILIZATION, lease, query).rows]


def months(lease: SnapshotLease) -> list[date]:
    """The months the mart has, newest first."""
    if STAFF_UTILIZATION.name not in lease.tables:
        return []
    table = f'"{lease.schema}"."{STAFF_UTILIZATION.name}"'
    cursor = lease.cursor.execute(f'SELECT DISTINCT "month" FROM {table} ORDER BY "month" DESC')
    return [row[0] for row in cursor.fetchall()]


def _sort_key(item: StaffMonth, column: str) -> Any:
    return item.name.lower() if column == "staff_name" else getattr(item.row, column)


def staff_list(
    lease: SnapshotLease, month: date, search: str = "", sort: str = "-logged_ratio",
    show: str = "",
) -> list[StaffMonth]:  # fmt: skip
    """The month's staff, searched by name or id, filtered by `show`, sorted by `sort`."""
    rows = _rows(lease, {}, month)
    needle = search.strip().lower()
    if needle:
        rows = [r for r in rows if needle in r.name.lower() or needle in r.row.staff_id.lower()]
    if show:
        rows = [r for r in rows if getattr(r, show)]
    column = sort.lstrip("-")
    rows.sort(key=lambda r: (r.name.lower(), r.row.staff_id))  # ties: by name
    present = [r for r in rows if _sort_key(r, column) is not None]
    missing = [r for r in rows if _sort_key(r, column) is None]
    present.sort(key=lambda r: _sort_key(r, column), reverse=sort.startswith("-"))
    return present + missing  # unknown values last, whatever the direction


@dataclass(frozen=True)
class MonthSummary:
    staff: int
    overloaded: int
    under_target: int
    over_target: int
    hours_short: Decimal
    hours_over: Decimal


def summary(lease: SnapshotLease, month: date) -> MonthSummary:
    rows = _rows(lease, {}, month)
    return MonthSummary(
        staff=len(rows),
        overloaded=sum(r.overloaded for r in rows),
        under_target=sum(r.under_target for r in rows),
        over_target=sum(r.over_target for r in rows),
        hours_short=sum(
            (r.row.capacity_gap_hours or Decimal(0) for r in rows if r.under_target), Decimal(0)
        ),
        hours_over=sum((r.row.overtime_hours or Decimal(0) for r in rows), Decimal(0)),
    )


def member(lease: SnapshotLease, staff_id: str) -> list[StaffMonth]:
    """Every month of one staff member, oldest first."""
    return _rows(lease, {"staff_id": [staff_id]}, None)
