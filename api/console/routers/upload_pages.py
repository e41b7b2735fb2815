"""Uploads: drop an export file, then see its quality report and the run that ingested it.

The form posts to a console route that calls `api.upload_intake.take_upload`, the intake of
`POST /api/v1/uploads` (same refusals, same landing, same audit entry, same pipeline run);
the pages show what `GET /api/v1/uploads[/{id}]` answers, through those handlers. An
accepted upload's page has a Retract form (analysts) that calls
`POST /api/v1/uploads/{id}/retract`'s handler.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.app_schemas import RetractIn
from api.console.session import require_csrf
from api.console.templating import render
from api.dependencies import current_snapshot_id, get_settings, get_storage, get_store
from api.problems import ProblemError
from api.routers.uploads import get_upload, list_uploads, retract_upload
from api.security import Authorize, actor_of, mark_audited
from api.upload_intake import take_upload
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.uploads import warehouse_upload_id
from moatmetrics.contract.entities import ENTITIES
from moatmetrics.seam.base import SnapshotReader
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/uploads", include_in_schema=False)

Reader = Annotated[Principal, Depends(Authorize("viewer", "uploads.read"))]
Uploader = Annotated[Principal, Depends(Authorize("analyst", "uploads.create", upload=True))]
Retractor = Annotated[Principal, Depends(Authorize("analyst", "uploads.retract"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
UploadId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE = 50
PROBLEMS_PAGE = 200


def _list_page(
    request: Request, principal: Principal, settings: Settings, offset: int = 0, *,
    error: str | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    page = list_uploads(principal, settings, None, None, PAGE, offset)
    return render(
        request, "uploads.html", status_code=status_code, uploads=page.uploads,
        total=page.total, offset=offset, page=PAGE, entities=ENTITIES, error=error,
        can_upload=principal.has_role("analyst"),
    )  # fmt: skip


@router.get("")
def uploads_page(
    request: Request,
    principal: Reader,
    settings: AppSettings,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    return _list_page(request, principal, settings, offset)


@router.post("", dependencies=[Depends(require_csrf)])
def upload_file(
    request: Request,
    principal: Uploader,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
    entity: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        taken = take_upload(
            settings, actor_of(request, principal), file.file, file.filename, entity or None
        )
    except ProblemError as exc:
        # Refused before landing (name, size, type, entity, unsafe workbook): say why here.
        problem = exc.problem
        return _list_page(
            request, principal, settings, error=f"{problem.title}: {problem.detail}",
            status_code=problem.status,
        )  # fmt: skip
    mark_audited(request)
    return RedirectResponse(f"/console/uploads/{taken.upload.id}", status_code=303)


@router.get("/{upload_id}")
def upload_page(
    upload_id: UploadId,
    request: Request,
    principal: Reader,
    settings: AppSettings,
    store: Annotated[SnapshotReader, Depends(get_store)],
    problems_offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    return _upload_page(request, principal, settings, store, upload_id, problems_offset)


def _upload_page(
    request: Request, principal: Principal, settings: Settings, store: SnapshotReader,
    upload_id: int, problems_offset: int = 0, *, error: str | None = None,
    status_code: int = 200, reason: str = "",
) -> HTMLResponse:  # fmt: skip
    upload = get_upload(
        str(upload_id), request, principal, settings, PROBLEMS_PAGE, problems_offset
    )
    published_in = None
    current = current_snapshot_id(store)
    if current and upload.status == "accepted":
        snapshot = get_storage(request).load_snapshot(current)
        if upload.sha256 and warehouse_upload_id(upload.sha256) in snapshot.upload_ids:
            published_in = current
    return render(
        request, "upload.html", status_code=status_code, upload=upload,
        published_in=published_in, current_snapshot=current, problems_offset=problems_offset,
        problems_page=PROBLEMS_PAGE, can_retract=principal.has_role("analyst"), error=error,
        reason=reason, retracted=request.query_params.get("retracted") == "1",
    )  # fmt: skip


@router.post("/{upload_id}/retract", dependencies=[Depends(require_csrf)])
def retract(
    upload_id: UploadId,
    request: Request,
    principal: Retractor,
    settings: AppSettings,
    store: Annotated[SnapshotReader, Depends(get_store)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        retract_upload(str(upload_id), RetractIn(reason=reason), request, principal, settings)
    except ValueError:  # pydantic: an empty reason
        message = "Give a reason for the retraction: it is kept with the upload and audited."
        return _upload_page(
            request, principal, settings, store, upload_id, error=message, status_code=422
        )
    except ProblemError as exc:
        if exc.problem.status == 404:
            raise
        problem = exc.problem
        return _upload_page(
            request, principal, settings, store, upload_id, reason=reason,
            error=f"{problem.title}: {problem.detail}", status_code=problem.status,
        )  # fmt: skip
    return RedirectResponse(f"/console/uploads/{upload_id}?retracted=1", status_code=303)
