"""The review queue: flagged mart rows, their confidence factors, and reviewers' decisions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from api.app_schemas import (
    ClientConfirmation,
    ClientConfirmed,
    DecisionIn,
    DecisionOut,
    ReasonKind,
    ReviewItemDetail,
    ReviewItemOut,
    ReviewList,
)
from api.client_identity import NotAnIdentityItem, confirm_client
from api.dependencies import get_settings
from api.mapping_uploads import MappingRefused
from api.problems import conflict, not_found, problem_responses, unprocessable
from api.security import Authorize, actor_of, mark_audited, set_audit_target
from moatmetrics.appdb import reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.models import ReviewItem
from moatmetrics.settings import Settings
from moatmetrics.trust import review_reasons

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])

Reader = Annotated[Principal, Depends(Authorize("analyst", "reviews.read"))]
Decider = Annotated[Principal, Depends(Authorize("analyst", "reviews.decide"))]
AppSettings = Annotated[Settings, Depends(get_settings)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The review item's id.")]


def _summary(item: ReviewItem) -> dict:
    factors = reviews.parse_json_object(item.factors_json)
    return {
        "id": item.id,
        "mart": item.mart,
        "row_key": item.row_key,
        "status": item.status,
        "snapshot_id": item.snapshot_id,
        "client_id": item.client_id,
        "confidence": item.confidence,
        "content_hash": item.content_hash,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "reason_kind": item.reason_kind,
        "reason": review_reasons.reason(item.mart, item.reason_kind, factors, item.explanation),
        "weakest_factor": review_reasons.weakest_factor(factors),
        "money_at_stake": item.money_at_stake,
        "subject": item.subject,
    }


def _detail(session, item: ReviewItem) -> ReviewItemDetail:  # type: ignore[no-untyped-def]
    decisions = [
        DecisionOut(
            id=d.id,
            decision=d.decision,
            comment=d.comment,
            content_hash=d.content_hash,
            decided_by=d.decided_by,
            decided_at=d.decided_at,
            current=d.content_hash == item.content_hash,
        )
        for d in reviews.history(session, item.id)
    ]
    return ReviewItemDetail(
        **_summary(item),
        row=reviews.parse_json_object(item.row_json),
        factors=reviews.parse_json_object(item.factors_json),
        explanation=item.explanation,
        decisions=decisions,
    )


@router.get(
    "", response_model=ReviewList, summary="Review items, oldest first or by money at stake",
    responses=problem_responses(422),
)  # fmt: skip
def list_reviews(
    principal: Reader,
    settings: AppSettings,
    status: Annotated[Literal["open", "approved", "rejected", "resolved"] | None, Query()] = None,
    mart: Annotated[str | None, Query(max_length=64)] = None,
    client: Annotated[str | None, Query(max_length=255, description="A client_id.")] = None,
    snapshot: Annotated[str | None, Query(max_length=64, description="A snapshot_id.")] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    kind: Annotated[
        ReasonKind | None,
        Query(
            description="Reason kind: doubtful data, an unusual month, an unknown client or "
            "an anomaly."
        ),
    ] = None,
    sort: Annotated[
        Literal["id", "-money_at_stake", "confidence"],
        Query(description="id (oldest first), -money_at_stake (most first) or confidence."),
    ] = "id",
) -> ReviewList:
    flt = reviews.ReviewFilter(
        status=status, mart=mart, client_id=client, snapshot_id=snapshot, reason_kind=kind
    )
    with session_scope(settings) as session:
        total, items = reviews.list_items(session, flt, limit, offset, sort)
        return ReviewList(
            total=total,
            limit=limit,
            offset=offset,
            items=[ReviewItemOut(**_summary(i)) for i in items],
        )


@router.get(
    "/{item_id}",
    response_model=ReviewItemDetail,
    summary="One item: the row, its confidence factors, explanation and decision history",
    responses=problem_responses(404, 422),
)
def get_review(
    item_id: ItemId, request: Request, principal: Reader, settings: AppSettings
) -> ReviewItemDetail:
    set_audit_target(request, f"reviews/{item_id}")
    with session_scope(settings) as session:
        item = session.get(ReviewItem, item_id)
        if item is None:
            raise not_found(f"Review item {item_id}")
        return _detail(session, item)


@router.post(
    "/{item_id}/decision",
    response_model=ReviewItemDetail,
    summary="Approve or reject the item's current content (a rejection needs a comment)",
    responses=problem_responses(400, 404, 409, 422),
)
def decide(
    item_id: ItemId,
    body: DecisionIn,
    request: Request,
    principal: Decider,
    settings: AppSettings,
) -> ReviewItemDetail:
    try:
        with session_scope(settings, write=True) as session:
            item, _ = reviews.decide(
                session, actor_of(request, principal), item_id, body.decision, body.comment,
                body.content_hash,
            )  # fmt: skip
            detail = _detail(session, item)
    except LookupError:
        raise not_found(f"Review item {item_id}") from None
    except reviews.ReviewConflict as exc:
        raise conflict("review-conflict", "The row changed", str(exc)) from None
    except ValueError as exc:
        raise unprocessable("invalid-decision", "Invalid decision", str(exc)) from None
    mark_audited(request)
    return detail


@router.post(
    "/{item_id}/client",
    response_model=ClientConfirmed,
    status_code=202,
    summary="Confirm which client a held vendor key is (an identity item): lands the alias as a"
    " client_aliases upload and approves the item; the next run brings the held rows in",
    responses=problem_responses(400, 404, 409, 413, 422),
)
def confirm_identity(
    item_id: ItemId,
    body: ClientConfirmation,
    request: Request,
    principal: Decider,
    settings: AppSettings,
) -> ClientConfirmed:
    try:
        item, taken = confirm_client(
            settings, actor_of(request, principal), item_id, body.client_id, body.content_hash
        )
    except LookupError:
        raise not_found(f"Review item {item_id}") from None
    except reviews.ReviewConflict as exc:
        raise conflict("review-conflict", "The held rows changed", str(exc)) from None
    except NotAnIdentityItem as exc:
        raise unprocessable("not-an-identity-item", "Not an identity item", str(exc)) from None
    except MappingRefused as exc:
        raise unprocessable("mapping-refused", "The alias cannot be written", str(exc)) from None
    with session_scope(settings) as session:
        detail = _detail(session, session.get(ReviewItem, item.id))
    mark_audited(request)
    return ClientConfirmed(
        item=detail, upload_id=taken.upload.id, run_requested=taken.run_requested
    )
