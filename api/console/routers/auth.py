"""Signing in with an API key and signing out.

The sign-in form is public (it shows no data); it checks the key with the gate's own
admission (`api.request_gate.admit`: the same lookup, revocation and rate window as every API call)
and records the attempt in the audit log: a success in full, in the same transaction that
starts the server-side session (`moatmetrics.appdb.console_sessions`); failures like every
refusal without a valid key (counted per address and minute, `moatmetrics.appdb.refusals`).
The browser then holds only the session's random token, never the key. Signing out ends the
session in the database, so the cookie is worthless even if it was copied.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.console.routers import second_factor
from api.console.session import (
    PREFIX,
    SIGN_IN_PATH,
    check_sign_in_token,
    clear_session,
    new_sign_in_token,
    require_csrf,
    safe_next,
    session_token,
    set_session,
    set_sign_in_token,
)
from api.console.templating import render_bare
from api.dependencies import get_settings
from api.request_gate import Draft, admit, settle
from api.security import Authorize
from moatmetrics.appdb import audit, console_sessions
from moatmetrics.appdb.db import session_scope
from moatmetrics.settings import Settings

router = APIRouter(include_in_schema=False)

SIGN_IN_RULE = Authorize("viewer", "console.sign_in", scoped=True)  # shows no data
AppSettings = Annotated[Settings, Depends(get_settings)]
_REASONS = {
    "missing": "Enter an API key.",
    "malformed": "That is not an API key: a key looks like mmk_1a2b3c4d_ followed by 43 "
    "characters. Copy it again from where it was created.",
    "unknown": "No key matches: check that you copied all of it, or ask an admin for a key "
    "(moatmetrics keys create --name you --role analyst).",
    "revoked": "This key was revoked: ask an admin for a new one.",
}


def _form(request: Request, next_path: str, error: str | None, status: int) -> Response:
    token = new_sign_in_token()
    sso = request.app.state.settings.oidc_enabled  # single sign-on offered (routers/sso.py)
    response = render_bare(
        "sign_in.html",
        status_code=status,
        sign_in_token=token,
        next=next_path,
        error=error,
        sso=sso,
    )
    set_sign_in_token(response, request, token)
    return response


@router.get(SIGN_IN_PATH)
def sign_in_form(
    request: Request, next: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    return _form(request, safe_next(next), None, 200)


@router.post(SIGN_IN_PATH)
async def sign_in(
    request: Request,
    settings: AppSettings,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    check_sign_in_token(request, csrf)
    key = key.strip()
    client_addr = request.client.host if request.client else None
    admission = await anyio.to_thread.run_sync(
        lambda: admit(settings, key, SIGN_IN_RULE, client_addr=client_addr)
    )
    principal = admission.principal
    actor = audit.Actor(
        name=principal.name if principal else (admission.key_name or "anonymous"),
        role=principal.role if principal else None,
        request_id=request.scope.get("state", {}).get("request_id"),
        client_addr=client_addr,
    )
    if principal is None:
        draft = Draft(actor, "console.sign_in", "denied", "console", 401,
                      {"reason": admission.reason})  # fmt: skip
        refused_addr = client_addr or "unknown"

        def record_refusal() -> None:
            with session_scope(settings, write=True) as session:
                settle(session, settings, None, draft, refused_addr=refused_addr)

        await anyio.to_thread.run_sync(record_refusal)
        refusal = admission.rate
        if refusal is not None and not refusal.allowed:  # MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE
            message = f"Too many refused attempts from your address: wait {refusal.reset_after} s."
            response = _form(request, safe_next(next), message, 429)
            response.headers["Retry-After"] = str(refusal.reset_after)
            return response
        message = _REASONS.get(admission.reason or "", "That key was not accepted.")
        return _form(request, safe_next(next), message, 401)

    if principal.role == "admin":  # admin keys also need a code (routers/second_factor.py)

        def record_key_step() -> None:
            with session_scope(settings, write=True) as session:
                audit.append(session, actor, "console.sign_in", "second_factor_required",
                             "console", 303, {})  # fmt: skip

        await anyio.to_thread.run_sync(record_key_step)
        return second_factor.challenge(request, settings, principal, safe_next(next))

    def start_session() -> str:
        with session_scope(settings, write=True) as session:
            token = console_sessions.start(session, principal.key_id)
            audit.append(session, actor, "console.sign_in", "ok", "console", 303, {})
            return token

    token = await anyio.to_thread.run_sync(start_session)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session(response, request, token)
    return response


@router.post(
    f"{PREFIX}/sign-out",
    dependencies=[
        Depends(Authorize("viewer", "console.sign_out", scoped=True)),
        Depends(require_csrf),
    ],
)
def sign_out(request: Request, settings: AppSettings) -> Response:
    """End the session in the database (the gate then audits `console.sign_out`)."""
    with session_scope(settings, write=True) as session:
        console_sessions.end(session, session_token(request.scope))
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    clear_session(response)
    return response
