"""API keys over HTTP (admin) and `GET /api/v1/me` (any key): who am I, with which role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.app_schemas import KeyCreate, KeyCreated, KeyInfoOut, KeyList, Me
from api.dependencies import get_settings
from api.problems import conflict, not_found, problem_responses, unprocessable
from api.security import Authorize, actor_of, mark_audited
from moatmetrics.appdb import keys
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import KeyInfo, KeyManagementError, KeyNameTaken, Principal
from moatmetrics.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["keys"])

Viewer = Annotated[Principal, Depends(Authorize("viewer", "auth.whoami", scoped=True))]
ListKeys = Annotated[Principal, Depends(Authorize("admin", "keys.list"))]
CreateKey = Annotated[Principal, Depends(Authorize("admin", "keys.create"))]
RevokeKey = Annotated[Principal, Depends(Authorize("admin", "keys.revoke"))]
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id.")]


def _out(info: KeyInfo) -> KeyInfoOut:
    clients = None if info.clients is None else list(info.clients)
    return KeyInfoOut(**{**info.__dict__, "active": info.active, "clients": clients})


@router.get(
    "/me", response_model=Me, summary="The key making this request",
    responses=problem_responses(),
)  # fmt: skip
def me(principal: Viewer) -> Me:
    clients = None if principal.clients is None else sorted(principal.clients)
    return Me(name=principal.name, role=principal.role, prefix=principal.prefix, clients=clients)


@router.get(
    "/keys", response_model=KeyList, summary="All API keys (never their secrets)",
    responses=problem_responses(),
)  # fmt: skip
def list_keys(principal: ListKeys, settings: Annotated[Settings, Depends(get_settings)]) -> KeyList:
    with session_scope(settings) as session:
        return KeyList(keys=[_out(info) for info in keys.list_keys(session)])


@router.post(
    "/keys",
    response_model=KeyCreated,
    status_code=201,
    summary="Create a key; the secret is in this response only",
    responses=problem_responses(400, 409, 422),
)
def create_key(
    body: KeyCreate,
    request: Request,
    principal: CreateKey,
    settings: Annotated[Settings, Depends(get_settings)],
) -> KeyCreated:
    try:
        with session_scope(settings, write=True) as session:
            info, secret = keys.create_key(
                session, actor_of(request, principal), body.name, body.role, body.clients
            )
    except KeyNameTaken as exc:
        raise conflict("key-name-taken", "Key name taken", str(exc)) from None
    except KeyManagementError as exc:
        raise unprocessable("invalid-key", "Key not created", str(exc)) from None
    mark_audited(request)
    return KeyCreated(**_out(info).model_dump(), key=secret)


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyInfoOut,
    summary="Revoke a key at once (idempotent)",
    responses=problem_responses(404, 409, 422),
)
def revoke_key(
    key_id: KeyId,
    request: Request,
    principal: RevokeKey,
    settings: Annotated[Settings, Depends(get_settings)],
) -> KeyInfoOut:
    if key_id == principal.key_id:
        raise conflict(
            "own-key",
            "Cannot revoke the key in use",
            "Revoke this key with another admin key or `moatmetrics keys revoke`, so an admin"
            " cannot lock themselves out by accident.",
        )
    try:
        with session_scope(settings, write=True) as session:
            info = keys.revoke_key(session, actor_of(request, principal), key_id)
    except KeyManagementError:
        raise not_found(f"API key {key_id}") from None
    request.app.state.key_cache.forget_all()  # other workers drop it within a second
    mark_audited(request)
    return _out(info)
