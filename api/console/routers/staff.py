"""Staff: who is overloaded, who is over or under their billable target, and one person's
capacity by month (`api.console.staff` reads the staff_utilization mart)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from api import periods
from api.console import staff
from api.console.charts import Series, bar_chart, line_chart
from api.console.templating import month, percent, render
from api.dependencies import CurrentSnapshot
from api.problems import not_found
from api.security import Authorize, set_audit_target

router = APIRouter(prefix="/console/staff", include_in_schema=False)

StaffId = Annotated[str, Path(min_length=1, max_length=255)]


@router.get("", dependencies=[Depends(Authorize("viewer", "console.staff"))])
def staff_page(
    request: Request,
    snapshot: CurrentSnapshot,
    month_text: Annotated[str, Query(alias="month", max_length=10)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[staff.Sort, Query()] = "-logged_ratio",
    show: Annotated[staff.Show, Query()] = "",
) -> HTMLResponse:
    months = staff.months(snapshot)
    # The staff mart's months; the last complete one unless one is chosen.
    data = periods.months_like(periods.data_months(snapshot), months)
    chosen = periods.selected_month(data, month_text or None) if data else None
    rows = staff.staff_list(snapshot, chosen, q, sort, show) if chosen else []
    return render(
        request, "staff.html", rows=rows, months=months, chosen=chosen, data_months=data,
        month_note=periods.partial_note(data, chosen),
        summary=staff.summary(snapshot, chosen) if chosen else None,
        filters={"month": chosen.strftime("%Y-%m") if chosen else "", "q": q, "sort": sort,
                 "show": show},
        sorts=staff.SORTS, shows=staff.SHOWS, snapshot_id=snapshot.snapshot.snapshot_id,
    )  # fmt: skip


@router.get("/{staff_id}", dependencies=[Depends(Authorize("viewer", "console.staff_member"))])
def staff_member(staff_id: StaffId, request: Request, snapshot: CurrentSnapshot) -> HTMLResponse:
    set_audit_target(request, f"console/staff/{staff_id}")
    months = staff.member(snapshot, staff_id)
    if not months:
        raise not_found(f"Staff member {staff_id} in the current snapshot")
    labels = [month(m.row.month) for m in months]
    hours_chart = bar_chart(
        f"Capacity and logged hours of {months[-1].name} by month",
        labels,
        [
            Series("Capacity (available hours)", [_f(m.row.available_hours) for m in months]),
            Series("Logged hours", [float(m.row.logged_hours) for m in months]),
            Series("Billable hours", [float(m.row.billable_hours) for m in months]),
        ],
        lambda v: f"{v:,.0f} h",
    )
    share_chart = line_chart(
        f"Share of capacity and billable utilisation of {months[-1].name} by month",
        labels,
        [
            Series("Share of capacity (logged)", [m.row.logged_ratio for m in months]),
            Series("Billable utilisation", [m.row.utilization for m in months]),
            Series("Billable target", [m.target for m in months]),
        ],
        lambda v: percent(v, 0),
    )
    return render(
        request, "staff_member.html", months=months, latest=months[-1], staff_id=staff_id,
        hours_chart=hours_chart, share_chart=share_chart,
        snapshot_id=snapshot.snapshot.snapshot_id,
    )  # fmt: skip


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
