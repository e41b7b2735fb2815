"""Corrections for analysts: list them, add one (exclude a row or set a column), revert one.

The page lists what `GET /api/v1/corrections` answers and its forms call the functions behind
`POST /api/v1/corrections` and `POST /api/v1/corrections/{id}/revert`
(`moatmetrics.appdb.overrides`: the same checks and the same audit entry in the same
transaction); the console only turns their refusals into form messages.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from api.app_schemas import CorrectionIn
from api.console.session import require_csrf
from api.console.templating import render
from api.dependencies import get_settings
from api.problems import ProblemError
from api.routers.corrections import (
    create_correction,
    list_corrections,
    revert_correction,
)
from api.routers.corrections import export as export_corrections
from api.security import Authorize
from moatmetrics.appdb.keys import Principal
from moatmetrics.quality.corrections import CORRECTABLE
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/corrections", include_in_schema=False)

Reader = Annotated[Principal, Depends(Authorize("analyst", "corrections.read"))]
Exporter = Annotated[Principal, Depends(Authorize("analyst", "corrections.export"))]
Writer = Annotated[Principal, Depends(Authorize("analyst", "corrections.create"))]
Reverter = Annotated[Principal, Depends(Authorize("analyst", "corrections.revert"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
OverrideId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE = 50


def _key_lines(text: str) -> dict[str, str | int | None]:
    """`entry_id=T001` lines (one key column a line) as the API's row_key."""
    key: dict[str, str | int | None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValueError(
                f"row key line {line.strip()[:60]!r} has no '='; fix: write one name=value"
                " a line, e.g. entry_id=T001"
            )
        key[name.strip()] = value.strip()
    return key


def _done(text: str | None) -> tuple[str, str] | None:
    """`added-12` / `reverted-12` from the redirect after a change, else None."""
    found = re.fullmatch(r"(added|reverted)-([0-9]{1,10})", text or "")
    return (found.group(1), found.group(2)) if found else None


def _page(
    request: Request, principal: Principal, settings: Settings, *, state: str = "active",
    offset: int = 0, error: str | None = None, form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    page = list_corrections(principal, settings, state, None, PAGE, offset)  # type: ignore[arg-type]
    return render(
        request, "corrections.html", status_code=status_code, items=page.items,
        total=page.total, offset=offset, page=PAGE, state=state, error=error,
        form=form or {}, correctable=CORRECTABLE, done=_done(request.query_params.get("done")),
        filters={"state": state},
    )  # fmt: skip


@router.get("")
def corrections_page(
    request: Request,
    principal: Reader,
    settings: AppSettings,
    state: Annotated[Literal["active", "reverted", "all"], Query()] = "active",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    return _page(request, principal, settings, state=state, offset=offset)


@router.get("/export")
def export(
    principal: Exporter,
    settings: AppSettings,
    state: Annotated[Literal["active", "reverted", "all"], Query()] = "all",
) -> StreamingResponse:
    # GET /api/v1/corrections/export's handler: the same CSV.
    return export_corrections(principal, settings, state, None)


@router.post("", dependencies=[Depends(require_csrf)])
def add_correction(
    request: Request,
    principal: Writer,
    settings: AppSettings,
    entity: Annotated[str, Form(max_length=32)],
    row_key: Annotated[str, Form(max_length=2000)],
    action: Annotated[Literal["exclude", "set"], Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
    column: Annotated[str, Form(max_length=64)] = "",
    value: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form = {"entity": entity, "row_key": row_key, "action": action, "column": column,
            "value": value, "reason": reason}  # fmt: skip
    try:
        if not reason.strip():
            raise ValueError("a correction needs a reason; fix: say why the row is wrong")
        body = CorrectionIn(
            entity=entity, row_key=_key_lines(row_key), action=action,
            column=(column.strip() or None) if action == "set" else None,
            value=value if action == "set" else None,
            reason=reason.strip(),
        )  # fmt: skip
        created = create_correction(request, principal, settings, body)
    except ValidationError as exc:  # the API model's own limits
        problem = exc.errors()[0]
        message = f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
        return _page(request, principal, settings, error=message, form=form, status_code=422)
    except ValueError as exc:  # a malformed row key, or no reason
        return _page(request, principal, settings, error=str(exc), form=form, status_code=422)
    except ProblemError as exc:  # refused (422) or conflicting (409) correction
        return _page(
            request, principal, settings, error=exc.problem.detail, form=form,
            status_code=exc.problem.status,
        )  # fmt: skip
    return RedirectResponse(f"/console/corrections?done=added-{created.id}", status_code=303)


@router.post("/{override_id}/revert", dependencies=[Depends(require_csrf)])
def revert(
    override_id: OverrideId, request: Request, principal: Reverter, settings: AppSettings
) -> Response:
    revert_correction(request, principal, settings, override_id)
    return RedirectResponse(f"/console/corrections?done=reverted-{override_id}", status_code=303)
