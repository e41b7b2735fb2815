"""The review queue for analysts: two queues (doubtful data, unusual month), the money at
stake, names, and decisions on one item or on many with one comment.

A decision is made by `moatmetrics.appdb.reviews.decide`, the function behind
`POST /api/v1/reviews/{id}/decision`, which writes the decision and its audit entry in one
transaction; the console only turns its errors into form messages. A bulk decision calls it
once per item inside one transaction: every item gets its own decision and audit entry, and
when one of them fails (a row changed since the page was read) none is recorded.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.app_schemas import ReasonKind, ReviewItemOut
from api.client_identity import NotAnIdentityItem, confirm_client
from api.console.session import require_csrf
from api.console.templating import month, render
from api.dependencies import get_settings
from api.mapping_uploads import MappingRefused
from api.problems import ProblemError, not_found
from api.routers.reviews import get_review, list_reviews
from api.security import Authorize, actor_of, mark_audited, set_audit_target
from moatmetrics.appdb import reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.marts import ANOMALIES_TABLE, GRAINS, INSIGHT_ORDERS, MART_NAMES
from moatmetrics.settings import Settings
from moatmetrics.trust import review_reasons

router = APIRouter(prefix="/console/reviews", include_in_schema=False)

Reader = Annotated[Principal, Depends(Authorize("analyst", "reviews.read"))]
Decider = Annotated[Principal, Depends(Authorize("analyst", "reviews.decide"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Status = Literal["open", "approved", "rejected", "resolved", ""]
Kind = ReasonKind | Literal[""]
Sort = Literal["-money_at_stake", "id", "confidence"]
PAGE = 50
#: The most items one bulk decision takes (a page holds PAGE).
BULK_MAX = 200
SORTS = {
    "-money_at_stake": "Most money at stake first",
    "confidence": "Lowest confidence first",
    "id": "Oldest first",
}
#: What each decision does, in words (the item page and the bulk form show them).
EFFECTS = {
    "approved": (
        "Approve says the numbers are right as they are. The item leaves the open queue; the "
        "row's review status becomes “approved” in the snapshot of the next pipeline run (the "
        "API, the console and the reports show it). Nothing in the data changes. The approval "
        "holds while these numbers stay the same: if a later run changes them (a corrected "
        "invoice, a late time entry), the item opens again."
    ),
    "rejected": (
        "Reject says the numbers are wrong; a comment saying what is wrong is required. The "
        "item leaves the open queue and the row's review status becomes “rejected” in the "
        "snapshot of the next pipeline run, so reports mark it. The numbers themselves are not "
        "changed or hidden: correct the source export and upload it again; when that run "
        "changes the numbers, the item opens again for review."
    ),
}


def _grain(item: ReviewItemOut) -> dict[str, Any]:
    try:
        values = json.loads(item.row_key)
    except ValueError:
        return {}
    names = GRAINS.get(item.mart) or INSIGHT_ORDERS.get(item.mart, ())
    return dict(zip(names, values, strict=False)) if isinstance(values, list) else {}


def describe(item: ReviewItemOut) -> dict[str, Any]:
    """What a person reads in the queue: who, which row, why and how much."""
    grain = _grain(item)
    entity = grain.get("staff_id") or grain.get("client_id") or item.client_id or ""
    parts = []
    if grain.get("product"):
        vendor, product = str(grain.get("vendor") or ""), str(grain["product"])
        parts.append(product if product.startswith(vendor) else f"{vendor} {product}".strip())
    if grain.get("month"):
        parts.append(month_label(str(grain["month"])))
    kind_label = review_reasons.KINDS.get(item.reason_kind or "", "Not classified yet")
    why = (item.reason or "").removeprefix(f"{kind_label}: ")  # the kind is shown as a tag
    return {
        "why": why[:1].upper() + why[1:],
        "who": item.subject or entity,
        "entity": entity,
        "what": " · ".join(parts),
        "kind_label": kind_label,
        "weakest": review_reasons.factor_name(item.weakest_factor or ""),
    }


def month_label(text: str) -> str:
    try:
        return month(date.fromisoformat(text[:10]))
    except ValueError:
        return text


def _filters(status: str, kind: str, mart: str, client: str, sort: str) -> dict[str, str]:
    return {"status": status, "kind": kind, "mart": mart, "client": client, "sort": sort}


def _queue_page(
    request: Request, principal: Principal, settings: Settings, filters: dict[str, str],
    offset: int, *, error: str | None = None, status_code: int = 200, comment: str = "",
) -> HTMLResponse:  # fmt: skip
    # The API's own handler: the console lists exactly what GET /api/v1/reviews answers.
    page = list_reviews(
        principal, settings, status=cast(Any, filters["status"] or None),
        mart=filters["mart"] or None, client=filters["client"] or None, snapshot=None,
        limit=PAGE, offset=offset,
        kind=cast(Any, filters["kind"] or None), sort=cast(Any, filters["sort"]),
    )  # fmt: skip
    flt = reviews.ReviewFilter(
        status=filters["status"] or None, mart=filters["mart"] or None,
        client_id=filters["client"] or None,
    )  # fmt: skip
    with session_scope(settings) as session:
        counts = reviews.kind_counts(session, flt)
        clients = reviews.clients(session)
        suggestions = reviews.identity_suggestions(session, (i.id for i in page.items))
    done = request.query_params.get("done")
    return render(
        request, "reviews.html", status_code=status_code, items=page.items,
        described={i.id: describe(i) for i in page.items}, total=page.total, offset=offset,
        page=PAGE, filters=filters, marts=(*MART_NAMES, ANOMALIES_TABLE),
        kinds=review_reasons.KINDS, counts=counts, clients=clients, sorts=SORTS,
        effects=EFFECTS, error=error, suggestions=suggestions,
        comment=comment, done=done if done and done.isdigit() else None,
        done_decision=request.query_params.get("decision"),
    )  # fmt: skip


@router.get("")
def queue(
    request: Request,
    principal: Reader,
    settings: AppSettings,
    status: Annotated[Status, Query()] = "open",
    kind: Annotated[Kind, Query()] = "",
    mart: Annotated[str, Query(max_length=64)] = "",
    client: Annotated[str, Query(max_length=255)] = "",
    sort: Annotated[Sort, Query()] = "-money_at_stake",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    filters = _filters(status, kind, mart, client, sort)
    return _queue_page(request, principal, settings, filters, offset)


def _parse_selection(values: list[str]) -> list[tuple[int, str]]:
    """`id:content_hash` of each ticked item (the hash the reviewer saw)."""
    chosen = []
    for value in values:
        item_id, _, digest = value.partition(":")
        if not item_id.isdigit() or not 1 <= int(item_id) < 2**31 or len(digest) != 64:
            raise ValueError(f"not a review item: {value[:80]!r}")
        chosen.append((int(item_id), digest))
    return chosen


@router.post("/decisions", dependencies=[Depends(require_csrf)])
def decide_many(
    request: Request,
    principal: Decider,
    settings: AppSettings,
    decision: Annotated[Literal["approved", "rejected"], Form()],
    item: Annotated[list[str], Form(max_length=BULK_MAX)] = [],  # noqa: B006 (FastAPI form)
    comment: Annotated[str, Form(max_length=2000)] = "",
    status: Annotated[Status, Form()] = "open",
    kind: Annotated[Kind, Form()] = "",
    mart: Annotated[str, Form(max_length=64)] = "",
    client: Annotated[str, Form(max_length=255)] = "",
    sort: Annotated[Sort, Form()] = "-money_at_stake",
) -> Response:
    filters = _filters(status, kind, mart, client, sort)
    set_audit_target(request, "reviews", items=len(item))

    def again(message: str, code: int) -> HTMLResponse:
        return _queue_page(
            request, principal, settings, filters, 0, error=message, status_code=code,
            comment=comment,
        )  # fmt: skip

    try:
        chosen = _parse_selection(item)
    except ValueError as exc:
        return again(str(exc), 422)
    if not chosen:
        return again("Tick at least one item to decide on.", 422)
    actor = actor_of(request, principal)
    try:
        with session_scope(settings, write=True) as session:
            for item_id, digest in chosen:
                reviews.decide(session, actor, item_id, decision, comment.strip() or None, digest)
    except LookupError as exc:
        return again(f"Review item {exc} does not exist; nothing was decided.", 404)
    except reviews.ReviewConflict as exc:
        return again(f"{exc} Nothing was decided; the list below is current.", 409)
    except ValueError as exc:
        return again(f"{exc}; nothing was decided.", 422)
    mark_audited(request)  # one audit entry per item, written by decide
    query = urlencode({**{k: v for k, v in filters.items() if v}, "done": len(chosen),
                       "decision": decision})  # fmt: skip
    return RedirectResponse(f"/console/reviews?{query}", status_code=303)


def _item_page(
    request: Request, principal: Principal, settings: Settings, item_id: int, *,
    error: str | None = None, status_code: int = 200, comment: str = "",
) -> HTMLResponse:  # fmt: skip
    # GET /api/v1/reviews/{id}'s handler: the row, factors, explanation and history (or 404).
    detail = get_review(item_id, request, principal, settings)
    return render(
        request, "review_item.html", status_code=status_code, item=detail, error=error,
        comment=comment, decided=request.query_params.get("decided"), about=describe(detail),
        effects=EFFECTS, money_means=review_reasons.MONEY_AT_STAKE.get(detail.mart),
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


@router.post("/{item_id}/client", dependencies=[Depends(require_csrf)])
def confirm_identity(
    item_id: ItemId,
    request: Request,
    principal: Decider,
    settings: AppSettings,
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    content_hash: Annotated[str | None, Form(max_length=64)] = None,
    back_to: Annotated[Literal["item", "queue"], Form()] = "item",
) -> Response:
    """An identity item answered: the same function as POST /api/v1/reviews/{id}/client.
    From the queue's one-click confirm (`back_to=queue`) the answer returns to the queue."""
    try:
        confirm_client(
            settings, actor_of(request, principal), item_id, client_id.strip(),
            content_hash or None,
        )  # fmt: skip
    except LookupError:
        raise not_found(f"Review item {item_id}") from None
    except reviews.ReviewConflict as exc:
        message = f"{exc} Check the rows below and confirm again."
        return _item_page(request, principal, settings, item_id, error=message, status_code=409)
    except (NotAnIdentityItem, MappingRefused, ProblemError) as exc:
        return _item_page(request, principal, settings, item_id, error=str(exc), status_code=422)
    mark_audited(request)
    if back_to == "queue":
        queue = f"/console/reviews?kind={review_reasons.CLIENT_IDENTITY}"
        return RedirectResponse(f"{queue}&done=1&decision=approved", status_code=303)
    return RedirectResponse(f"/console/reviews/{item_id}?decided=approved", status_code=303)
