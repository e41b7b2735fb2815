"""Uploads over HTTP: files go to the landing folder and a pipeline run ingests them.

`POST /{id}/retract` marks an accepted upload retracted (audited) and asks for a run, which
takes its rows out of the warehouse (docs/operations.md, "Corrections").

`POST` answers 202 as soon as the file is checked and landed; the ingest outcome (accepted,
rejected with every problem row, or unchanged) appears on `GET /api/v1/uploads/{id}` when the
run has processed it. Refusals that need no ingest (path in the name, size, workbook bomb,
unknown entity) are immediate 400/413/422 problems.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile

from api.app_schemas import (
    RetractIn,
    UploadAccepted,
    UploadDetail,
    UploadList,
    UploadOut,
    UploadProblemOut,
    UploadRetracted,
)
from api.dependencies import get_settings
from api.problems import conflict, not_found, problem_responses, unprocessable
from api.security import Authorize, actor_of, mark_audited, set_audit_target
from api.upload_intake import take_upload
from moatmetrics.appdb import uploads
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.models import Upload, UploadProblem
from moatmetrics.settings import Settings
from moatmetrics.upload_runs import request_run

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])

Reader = Annotated[Principal, Depends(Authorize("viewer", "uploads.read"))]
Uploader = Annotated[Principal, Depends(Authorize("analyst", "uploads.create", upload=True))]
Retractor = Annotated[Principal, Depends(Authorize("analyst", "uploads.retract"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
UploadRef = Annotated[
    str,
    Path(
        pattern=r"^([1-9][0-9]{0,9}|u[0-9a-f]{1,16})$",
        description="The upload's id, or the warehouse upload id (`u` + 16 hex) that snapshots"
        " list in `upload_ids` (then the newest upload of that content).",
        examples=["12", "u3f2a9c0d11e4b7a2"],
    ),
]


def _out(upload: Upload) -> dict:
    return {
        "id": upload.id,
        "source": upload.source,
        "file_name": upload.original_name,
        "stored_name": upload.stored_name,
        "entity": upload.entity,
        "sha256": upload.sha256,
        "size_bytes": upload.size_bytes,
        "status": upload.status,
        "message": upload.message,
        "row_count": upload.row_count,
        "rows_loaded": upload.rows_loaded,
        "rows_rejected": upload.rows_rejected,
        "rows_skipped": upload.rows_skipped,
        "rows_held": upload.rows_held,
        "profile": upload.profile,
        "warnings": upload.warnings,
        "notes": uploads.parse_json_list(upload.notes),
        "quality_score": upload.quality_score,
        "recommendations": uploads.parse_json_list(upload.recommendations),
        "uploaded_by": upload.uploaded_by,
        "created_at": upload.created_at,
        "processed_at": upload.processed_at,
        "scope_source": upload.scope_source,
        "scope_start": upload.scope_start,
        "scope_end": upload.scope_end,
        "declared_start": upload.declared_start,
        "declared_end": upload.declared_end,
        "retracted_at": upload.retracted_at,
        "retracted_by": upload.retracted_by,
        "retract_reason": upload.retract_reason,
    }


def _problem(problem: UploadProblem) -> UploadProblemOut:
    return UploadProblemOut(
        row=problem.row_number,
        column=problem.column_name,
        value=problem.value,
        rule=problem.rule,
        fix=problem.fix,
        severity=problem.severity,
        sheet=problem.sheet,
    )


@router.post(
    "",
    status_code=202,
    response_model=UploadAccepted,
    summary="Upload an export file (multipart); ingested by a pipeline run",
    responses=problem_responses(400, 413, 422),
)
def create_upload(
    request: Request,
    response: Response,
    principal: Uploader,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="A .csv, .xlsx, .json or .jsonl export.")],
    entity: Annotated[
        str | None,
        Form(description="clients, staff, time_entries, invoices, licenses or expenses; "
             "optional when the file name names the entity."),
    ] = None,
    period: Annotated[
        str | None,
        Form(max_length=32, description="The period the export covers, START..END (ISO dates,"
             " both included), e.g. 2025-03-01..2025-03-31: it replaces the older rows of its"
             " source in that period. Optional: by default its first to its last date."),
    ] = None,
) -> UploadAccepted:  # fmt: skip
    taken = take_upload(
        settings, actor_of(request, principal), file.file, file.filename, entity, period
    )
    mark_audited(request)
    upload = taken.upload
    location = f"/api/v1/uploads/{upload.id}"
    response.headers["Location"] = location
    return UploadAccepted(
        id=upload.id,
        status=upload.status,
        message=upload.message,
        location=location,
        run_requested=taken.run_requested,
    )


@router.get(
    "", response_model=UploadList, summary="Uploads, newest first",
    responses=problem_responses(422),
)  # fmt: skip
def list_uploads(
    principal: Reader,
    settings: AppSettings,
    status: Annotated[
        str | None, Query(description="received, accepted, rejected, unchanged or retracted.")
    ] = None,
    entity: Annotated[str | None, Query(description="Only uploads of this entity.")] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> UploadList:
    with session_scope(settings) as session:
        total, rows = uploads.list_uploads(session, status, entity, limit, offset)
        return UploadList(
            total=total, limit=limit, offset=offset, uploads=[UploadOut(**_out(u)) for u in rows]
        )


@router.get(
    "/{upload_id}",
    response_model=UploadDetail,
    summary="One upload: status, counts, quality score and its problem rows (paged)",
    responses=problem_responses(404, 422),
)
def get_upload(
    upload_id: UploadRef,
    request: Request,
    principal: Reader,
    settings: AppSettings,
    problems_limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    problems_offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> UploadDetail:
    set_audit_target(request, f"uploads/{upload_id}")
    with session_scope(settings) as session:
        upload = uploads.find_upload(session, upload_id)
        if upload is None:
            raise not_found(f"Upload {upload_id}")
        total, problems = uploads.problems_page(session, upload.id, problems_limit, problems_offset)
        return UploadDetail(
            **_out(upload),
            problems_total=total,
            problems_limit=problems_limit,
            problems_offset=problems_offset,
            problems=[_problem(p) for p in problems],
        )


@router.post(
    "/{upload_id}/retract",
    response_model=UploadRetracted,
    summary="Retract an accepted upload: its rows leave the marts at the next pipeline run",
    responses=problem_responses(404, 409, 422),
)
def retract_upload(
    upload_id: UploadRef,
    body: RetractIn,
    request: Request,
    principal: Retractor,
    settings: AppSettings,
) -> UploadRetracted:
    set_audit_target(request, f"uploads/{upload_id}")
    try:
        with session_scope(settings, write=True) as session:
            upload = uploads.retract_upload(
                session, actor_of(request, principal), upload_id, body.reason
            )
            out = _out(upload)
    except LookupError:
        raise not_found(f"Upload {upload_id}") from None
    except uploads.NotRetractable as exc:
        raise conflict("upload-not-retractable", "Upload not retractable", str(exc)) from None
    except uploads.RetractError as exc:
        raise unprocessable("invalid-retraction", "Invalid retraction", str(exc)) from None
    mark_audited(request)
    return UploadRetracted(**out, run_requested=request_run(settings))
