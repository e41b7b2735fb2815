"""Insights: what is changing in the portfolio, what the next three months look like and what
to do first (`api.console.insights` reads marts.trends, marts.forecasts and marts.actions).

Portfolio-wide, so a client-scoped caller is refused (403) like the staff pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from api import periods
from api.console import insights
from api.console.routers.overview import MonthParam
from api.console.templating import render
from api.dependencies import CurrentSnapshot
from api.security import Authorize

router = APIRouter(prefix="/console/insights", include_in_schema=False)


@router.get("", dependencies=[Depends(Authorize("viewer", "console.insights"))])
def insights_page(
    request: Request, snapshot: CurrentSnapshot, month: MonthParam = None
) -> HTMLResponse:
    months = periods.data_months(snapshot)
    shown = periods.selected_month(months, month)
    return render(
        request,
        "insights.html",
        view=insights.insights(snapshot, shown),
        months=months,
        selected=shown,
        month_key=shown.strftime("%Y-%m") if shown else "",
        month_note=periods.partial_note(months, shown),
        top=insights.TOP,
        snapshot_id=snapshot.snapshot.snapshot_id,
    )
