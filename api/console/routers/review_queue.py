"""The review queue for analysts: filter, open an item, approve or reject it with a comment.

A decision is made by `moatmetrics.appdb.reviews.decide`, the function behind
`POST /api/v1/reviews/{id}/decision`, which writes the decision and its audit entry in one
transaction; the console only turns its errors into form messages.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.session import require_csrf
from api.console.templating import render
from api.dependencies import get_settings
from api.problems import not_found
from api.routers.reviews import get_review, list_reviews
from api.security import Authorize, actor_of, mark_audited
from moatmetrics.appdb import reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.marts import MART_NAMES
from moatmetrics.settings import Settings

router = APIRouter(prefix="/console/reviews", include_in_schema=False)

Reader = Annotated[Principal, Depends(Authorize("analyst", "reviews.read"))]
Decider = Annotated[Principal, Depends(Authorize("analyst", "reviews.decide"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE = 50


@router.get("")
def queue(
    request: Request,
    principal: Reader,
    settings: AppSettings,
    status: Annotated[Literal["open", "approved", "rejected", "resolved", ""], Query()] = "open",
    mart: Annotated[str, Query(max_length=64)] = "",
    client: Annotated[str, Query(max_length=255)] = "",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    # The API's own handler: the console lists exactly what GET /api/v1/reviews answers.
    page = list_reviews(
        principal, settings, status or None, mart or None, client or None, None, PAGE, offset
    )
    return render(
        request, "reviews.html", items=page.items, total=page.total, offset=offset, page=PAGE,
        filters={"status": status, "mart": mart, "client": client},
        marts=MART_NAMES,
    )  # fmt: skip


def _item_page(
    request: Request, principal: Principal, settings: Settings, item_id: int, *,
    error: str | None = None, status_code: int = 200, comment: str = "",
) -> HTMLResponse:  # fmt: skip
    # GET /api/v1/reviews/{id}'s handler: the row, factors, explanation and history (or 404).
    detail = get_review(item_id, request, principal, settings)
    return render(
        request, "review_item.html", status_code=status_code, item=detail, error=error,
        comment=comment, decided=request.query_params.get("decided"),
    )  # fmt: skip


@router.get("/{item_id}")
def item_page(
    item_id: ItemId, request: Request, principal: Reader, settings: AppSettings
) -> HTMLResponse:
    return _item_page(request, principal, settings, item_id)


@router.post("/{item_id}/decision", dependencies=[Depends(require_csrf)])
def decide(
    item_id: ItemId,
    request: Request,
    principal: Decider,
    settings: AppSettings,
    decision: Annotated[Literal["approved", "rejected"], Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
    content_hash: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    try:
        with session_scope(settings, write=True) as session:
            reviews.decide(
                session, actor_of(request, principal), item_id, decision,
                comment.strip() or None, content_hash or None,
            )  # fmt: skip
    except LookupError:
        raise not_found(f"Review item {item_id}") from None
    except reviews.ReviewConflict as exc:
        message = f"{exc} Review the numbers below and decide again."
        return _item_page(request, principal, settings, item_id, error=message, status_code=409)
    except ValueError as exc:
        return _item_page(
            request, principal, settings, item_id, error=str(exc), status_code=422,
            comment=comment,
        )  # fmt: skip
    mark_audited(request)
    return RedirectResponse(f"/console/reviews/{item_id}?decided={decision}", status_code=303)
