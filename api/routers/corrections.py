"""Corrections: analysts exclude or correct input rows; listed, exported, reverted.

The rules and the audit entries are in `moatmetrics.appdb.overrides` (the rows a correction
may name and the values it may set: `moatmetrics.quality.corrections`); the handlers only map
its errors to problems. A correction applies from the next pipeline run (docs/trust.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from api.app_schemas import CorrectionIn, CorrectionList, CorrectionOut
from api.dependencies import get_settings
from api.problems import conflict, not_found, problem_responses, unprocessable
from api.security import Authorize, actor_of, mark_audited, set_audit_target
from moatmetrics.appdb import overrides
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.models import RowOverride
from moatmetrics.quality.corrections import CorrectionRefused
from moatmetrics.settings import Settings

router = APIRouter(prefix="/api/v1/corrections", tags=["corrections"])

Reader = Annotated[Principal, Depends(Authorize("analyst", "corrections.read"))]
Exporter = Annotated[Principal, Depends(Authorize("analyst", "corrections.export"))]
Writer = Annotated[Principal, Depends(Authorize("analyst", "corrections.create"))]
Reverter = Annotated[Principal, Depends(Authorize("analyst", "corrections.revert"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
OverrideId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The correction's id.")]
State = Annotated[Literal["active", "reverted", "all"], Query()]
Entity = Annotated[str | None, Query(max_length=32)]


def correction_out(o: RowOverride) -> CorrectionOut:
    return CorrectionOut(
        id=o.id,
        entity=o.entity,
        row_key=overrides.key_of(o),
        action=o.action,  # type: ignore[arg-type]
        column=o.column_name,
        value=o.value,
        summary=overrides.describe(o),
        reason=o.reason,
        created_by=o.created_by,
        created_at=o.created_at,
        state=overrides.state_of(o),  # type: ignore[arg-type]
        reverted_by=o.reverted_by,
        reverted_at=o.reverted_at,
        row_status=o.row_status,  # type: ignore[arg-type]
        row_status_text=overrides.ROW_STATUS_TEXT.get(o.row_status, o.row_status),
    )


@router.get(
    "", response_model=CorrectionList, summary="Corrections, newest first",
    responses=problem_responses(422),
)  # fmt: skip
def list_corrections(
    principal: Reader,
    settings: AppSettings,
    state: State = "active",
    entity: Entity = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> CorrectionList:
    flt = overrides.OverrideFilter(state=state, entity=entity)
    with session_scope(settings) as session:
        total, rows = overrides.list_overrides(session, flt, limit, offset)
        items = [correction_out(o) for o in rows]
    return CorrectionList(total=total, limit=limit, offset=offset, items=items)


@router.get(
    "/export",
    summary="Every matching correction as CSV, oldest first",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(422)},
)
def export(
    principal: Exporter, settings: AppSettings, state: State = "all", entity: Entity = None
) -> StreamingResponse:
    flt = overrides.OverrideFilter(state=state, entity=entity)
    return StreamingResponse(
        overrides.export_csv(settings, flt),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="moatmetrics-corrections.csv"'},
    )


@router.get(
    "/{override_id}", response_model=CorrectionOut, summary="One correction",
    responses=problem_responses(404, 422),
)  # fmt: skip
def get_correction(
    override_id: OverrideId, request: Request, principal: Reader, settings: AppSettings
) -> CorrectionOut:
    set_audit_target(request, f"corrections/{override_id}")
    with session_scope(settings) as session:
        found = session.get(RowOverride, override_id)
        if found is None:
            raise not_found(f"Correction {override_id}")
        return correction_out(found)


def create_correction(
    request: Request, principal: Principal, settings: Settings, body: CorrectionIn
) -> CorrectionOut:
    """Store a correction (the API's and the console's form's one way in)."""
    try:
        with session_scope(settings, write=True) as session:
            created = overrides.create(
                session, actor_of(request, principal), body.entity, body.row_key, body.action,
                body.column, body.value, body.reason,
            )  # fmt: skip
            out = correction_out(created)
    except CorrectionRefused as exc:
        raise unprocessable("invalid-correction", "Invalid correction", str(exc)) from None
    except overrides.OverrideConflict as exc:
        raise conflict("correction-conflict", "Already corrected", str(exc)) from None
    mark_audited(request)
    return out


@router.post(
    "", response_model=CorrectionOut, status_code=201,
    summary="Exclude an input row or set one of its columns (applies from the next run)",
    responses=problem_responses(409, 422),
)  # fmt: skip
def create(
    body: CorrectionIn, request: Request, principal: Writer, settings: AppSettings
) -> CorrectionOut:
    return create_correction(request, principal, settings, body)


def revert_correction(
    request: Request, principal: Principal, settings: Settings, override_id: int
) -> CorrectionOut:
    try:
        with session_scope(settings, write=True) as session:
            reverted, changed = overrides.revert(session, actor_of(request, principal), override_id)
            out = correction_out(reverted)
    except LookupError:
        raise not_found(f"Correction {override_id}") from None
    if changed:
        mark_audited(request)  # else the gate records the request
    return out


@router.post(
    "/{override_id}/revert", response_model=CorrectionOut,
    summary="Stop applying a correction (from the next run); it stays listed as reverted",
    responses=problem_responses(404, 422),
)  # fmt: skip
def revert(
    override_id: OverrideId, request: Request, principal: Reverter, settings: AppSettings
) -> CorrectionOut:
    return revert_correction(request, principal, settings, override_id)
