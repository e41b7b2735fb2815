"""Report downloads: client profitability and license savings as PDF or XLSX.

The form sends the parameters of `GET /api/v1/reports/{report}`; the download route calls
that endpoint's handler (`api.routers.reports`), so the file, its checks and its audit
action (`reports.read`) are the API's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.console.templating import render
from api.dependencies import get_settings
from api.security import Authorize
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/reports", include_in_schema=False)

AppSettings = Annotated[Settings, Depends(get_settings)]
Month = Annotated[str, Query(max_length=10)]


@router.get("", dependencies=[Depends(Authorize("viewer", "console.reports"))])
def reports_page(request: Request) -> HTMLResponse:
    return render(request, "reports.html", report_client=None, error=None)
