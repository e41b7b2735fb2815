"""The overview of one month (by default the last complete one): portfolio revenue, margin,
license waste and leakage and utilisation with their changes, the clients losing money, those
whose data looks incomplete and the healthy ones, a margin heatmap, license savings in words
and the trend up to that month."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from api import periods
from api.client_scope import ScopedClients
from api.console import portfolio
from api.console.charts import Series, bar_chart, line_chart
from api.console.templating import money, percent, render
from api.console.templating import month as month_label
from api.dependencies import CurrentSnapshot, get_settings
from api.security import Authorize
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)

AppSettings = Annotated[Settings, Depends(get_settings)]
#: `?month=YYYY-MM` on the overview, client list and client pages (the month picker).
MonthParam = Annotated[str | None, Query(max_length=20)]


@router.get("", dependencies=[Depends(Authorize("viewer", "console.overview", scoped=True))])
def overview(
    request: Request,
    snapshot: CurrentSnapshot,
    settings: AppSettings,
    scope: ScopedClients,
    month: MonthParam = None,
) -> Response:
    if scope is not None:
        # The overview's totals, lists and staff chart span every client: a client-scoped
        # caller lands on the list of their own clients instead (where sign-in sends them).
        return RedirectResponse("/console/clients", status_code=303)
    months = periods.data_months(snapshot)
    shown = periods.selected_month(months, month)
    threshold = settings.review_threshold
    view = portfolio.overview(snapshot, shown, threshold)
    labels = [month_label(m.month) for m in view.months]
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
        months=months,
        selected=shown,
        month_key=shown.strftime("%Y-%m") if shown else "",
        month_note=periods.partial_note(months, shown),
        threshold=threshold,
        top=portfolio.TOP,
        margin_chart=margin_chart,
        money_chart=money_chart,
        license_chart=license_chart,
    )
