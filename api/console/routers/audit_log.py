"""The audit log for admins: search with the API's filters, page, and export.

Both pages call the handlers of `GET /api/v1/audit` and `GET /api/v1/audit/export`, so the
filters mean the same and an export from the console is the API's export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from api.console.templating import render
from api.dependencies import get_settings
from api.problems import invalid_parameter
from api.routers.audit import export, list_entries
from api.security import Authorize
from moatmetrics.appdb import audit
from moatmetrics.appdb.keys import Principal
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/audit", include_in_schema=False)

Reader = Annotated[Principal, Depends(Authorize("admin", "audit.read"))]
Exporter = Annotated[Principal, Depends(Authorize("admin", "audit.export"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
PAGE = 100


def _moment(name: str, text: str) -> datetime | None:
    """The form's date fields: empty, a date (YYYY-MM-DD) or a date and time."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise invalid_parameter(
            name, f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None


def console_filter(
    actor: Annotated[str, Query(max_length=100)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=500)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> audit.AuditFilter:
    return audit.AuditFilter(
        actor=actor.strip() or None,
        action=action.strip() or None,
        target=target.strip() or None,
        since=_moment("since", since),
        until=_moment("until", until),
    )


Filter = Annotated[audit.AuditFilter, Depends(console_filter)]


@router.get("")
def audit_page(
    request: Request,
    principal: Reader,
    settings: AppSettings,
    flt: Filter,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
) -> HTMLResponse:
    page = list_entries(principal, settings, flt, PAGE, offset)
    query = {k: v for k, v in request.query_params.items() if k != "offset" and v}
    return render(
        request, "audit.html", entries=page.entries, total=page.total, offset=offset,
        page=PAGE, filters=query, values=request.query_params,
    )  # fmt: skip


@router.get("/export")
def audit_export(
    principal: Exporter,
    settings: AppSettings,
    flt: Filter,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
) -> StreamingResponse:
    return export(principal, settings, flt, format)
