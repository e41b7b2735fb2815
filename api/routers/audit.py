"""The audit log for admins: filtered pages, full exports (CSV, JSON Lines), verification."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator
from sqlalchemy import func, select

from api.app_schemas import AuditEntryOut, AuditPage, AuditVerification
from api.dependencies import get_settings
from api.problems import problem_responses
from api.security import Authorize
from moatmetrics.appdb import audit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.models import AuditEntry
from moatmetrics.settings import Settings

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Reader = Annotated[Principal, Depends(Authorize("admin", "audit.read"))]
Exporter = Annotated[Principal, Depends(Authorize("admin", "audit.export"))]
Verifier = Annotated[Principal, Depends(Authorize("admin", "audit.verify"))]
AppSettings = Annotated[Settings, Depends(get_settings)]


_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def _iso_only(value: object) -> object:
    """Pydantic would read `0.5` as a Unix time; an audit query names a real date and time."""
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("use an ISO 8601 date and time, e.g. 2024-05-01T09:00:00Z")
    return value


Moment = Annotated[datetime | None, BeforeValidator(_iso_only)]


def audit_filter(
    actor: Annotated[str | None, Query(max_length=100, description="Exact actor.")] = None,
    action: Annotated[
        str | None,
        Query(max_length=64, description="Action prefix, e.g. `marts.` or `keys.create`."),
    ] = None,
    target: Annotated[
        str | None, Query(max_length=500, description="Target prefix, e.g. `marts/`.")
    ] = None,
    since: Annotated[Moment, Query(description="From this time (inclusive).")] = None,
    until: Annotated[Moment, Query(description="Up to this time (inclusive).")] = None,
) -> audit.AuditFilter:
    return audit.AuditFilter(actor=actor, action=action, target=target, since=since, until=until)


Filter = Annotated[audit.AuditFilter, Depends(audit_filter)]


@router.get(
    "", response_model=AuditPage, summary="Audit entries, newest first",
    responses=problem_responses(422),
)  # fmt: skip
def list_entries(
    principal: Reader,
    settings: AppSettings,
    flt: Filter,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
) -> AuditPage:
    with session_scope(settings) as session:
        query = audit.filtered(select(AuditEntry), flt)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
        ).all()
        entries = [AuditEntryOut(**audit.entry_dict(e)) for e in rows]
    return AuditPage(total=total, limit=limit, offset=offset, entries=entries)


@router.get(
    "/export",
    summary="Every matching entry in chain order, as CSV or JSON Lines",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}, "application/x-ndjson": {}}},
        **problem_responses(422),
    },
)
def export(
    principal: Exporter,
    settings: AppSettings,
    flt: Filter,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "jsonl",
) -> StreamingResponse:
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    filename = f"moatmetrics-audit.{format}"
    return StreamingResponse(
        audit.export_lines(settings, flt, format),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/verify",
    response_model=AuditVerification,
    summary="Check the whole hash chain; names the first broken entry",
    responses=problem_responses(),
)
def verify(principal: Verifier, settings: AppSettings) -> AuditVerification:
    report = audit.verify(settings)
    return AuditVerification(**report.__dict__)
