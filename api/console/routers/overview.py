"""The overview: portfolio margin, revenue, license waste and leakage and utilisation, latest
month and trend, with the least profitable clients and the largest license savings first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api.console import data
from api.console.charts import Series, bar_chart, line_chart
from api.console.templating import money, month, percent, render
from api.dependencies import CurrentSnapshot
from api.security import Authorize

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", dependencies=[Depends(Authorize("viewer", "console.overview"))])
def overview(request: Request, snapshot: CurrentSnapshot) -> HTMLResponse:
    view = data.overview(snapshot)
    labels = [month(m.month) for m in view.months]
    margin_chart = line_chart(
        "Gross margin and staff utilisation by month",
        labels,
        [
            Series("Gross margin", [m.gross_margin for m in view.months]),
            Series("Staff utilisation", [m.utilization for m in view.months]),
        ],
        lambda v: percent(v, 0),
    )
    money_chart = bar_chart(
        "Revenue and cost by month",
        labels,
        [
            Series("Revenue", [float(m.revenue) for m in view.months]),
            Series("Total cost", [float(m.total_cost) for m in view.months]),
        ],
        money,
    )
    license_chart = bar_chart(
        "License waste and leakage by month",
        labels,
        [
            Series("Waste (unused seats)", [float(m.waste) for m in view.months]),
            Series("Leakage (unbilled seats)", [float(m.leakage) for m in view.months]),
        ],
        money,
    )
    return render(
        request,
        "overview.html",
        view=view,
        snapshot_id=view.snapshot_id,
        margin_chart=margin_chart,
        money_chart=money_chart,
        license_chart=license_chart,
    )
