"""Report downloads: client profitability and license savings as PDF or XLSX.

The form sends the parameters of `GET /api/v1/reports/{report}`; the download route calls
that endpoint's handler (`api.routers.reports`), so the file, its checks and its audit
action (`reports.read`) are the API's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.client_scope import ScopedClients
from api.console.templating import render
from api.dependencies import CurrentSnapshot, get_settings
from api.routers import reports as api_reports
from api.security import Authorize
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/reports", include_in_schema=False)

AppSettings = Annotated[Settings, Depends(get_settings)]
Month = Annotated[str, Query(max_length=10)]
HANDLERS = {
    "client-profitability": api_reports.client_profitability,
    "license-savings": api_reports.license_savings,
}


@router.get("", dependencies=[Depends(Authorize("viewer", "console.reports", scoped=True))])
def reports_page(request: Request) -> HTMLResponse:
    return render(request, "reports.html", report_client=None, error=None)


@router.get("/download", dependencies=[Depends(Authorize("viewer", "reports.read", scoped=True))])
def download(
    request: Request,
    scope: ScopedClients,
    snapshot: CurrentSnapshot,
    settings: AppSettings,
    report: Annotated[Literal["client-profitability", "license-savings"], Query()],
    format: Annotated[Literal["pdf", "xlsx"], Query()] = "pdf",
    client_id: Annotated[str, Query(max_length=255)] = "",
    month_from: Month = "",
    month_to: Month = "",
    audience: Annotated[Literal["internal", "client"], Query()] = "internal",
) -> Response:
    # Empty form fields mean "all"; the API's own parameter checks then apply (422/404).
    params = api_reports.report_params(
        snapshot,
        scope,
        format,
        [client_id] if client_id.strip() else None,
        month_from or None,
        month_to or None,
        audience,
    )
    return HANDLERS[report](request, params, snapshot, settings)
