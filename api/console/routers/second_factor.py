"""The second step of an admin key's console sign-in: a TOTP code (`moatmetrics.appdb.totp`).

After the key is accepted (`routers/auth.py`), an admin key gets no session yet: the browser
holds a short-lived cookie saying "this key was just presented" (MACed with the installation's
`console-second-factor` sub-key, so it cannot be made up) and is sent here. A key that has not
enrolled is shown a QR code (SVG drawn here, nothing fetched) and its secret in text, and
enrols with its first code, which also shows its ten recovery codes once. An enrolled key
enters a code or a recovery code. Only then does the console session start, as for any key.

Every attempt is audited (`console.second_factor`): wrong or reused codes as `denied`, and
after `MAX_FAILURES` failures in a row the key's second factor is locked for `LOCK_MINUTES`
(`rate_limited`, 429), whatever is entered.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from api.console.session import (
    SIGN_IN_PATH,
    check_sign_in_token,
    new_sign_in_token,
    safe_next,
    set_session,
    set_sign_in_token,
)
from api.console.templating import render_bare
from api.dependencies import get_settings
from moatmetrics.appdb import audit, console_sessions, totp
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import Principal
from moatmetrics.appdb.models import ApiKey
from moatmetrics.appdb.signing import signing_key
from moatmetrics.settings import Settings

router = APIRouter(include_in_schema=False)

PATH = f"{SIGN_IN_PATH}/second-factor"
PENDING_COOKIE = "mm_console_2fa"
PENDING_SECONDS = 300
ACTION = "console.second_factor"
AppSettings = Annotated[Settings, Depends(get_settings)]
_MESSAGES = {
    "wrong": "That code is not right. Enter the 6 digits your authenticator app shows now.",
    "reused": "That code was already used. Wait for the next code in your app.",
}


def _mac(settings: Settings, value: str) -> str:
    return signing_key(settings).derive("console-second-factor").sign(value)


def challenge(
    request: Request, settings: Settings, principal: Principal, next_path: str
) -> Response:
    """The key step is done: send an admin key to its second factor."""
    value = f"{principal.key_id}.{int(time.time()) + PENDING_SECONDS}.{secrets.token_hex(8)}"
    response = RedirectResponse(f"{PATH}?next={quote(next_path)}", status_code=303)
    response.set_cookie(
        PENDING_COOKIE, f"{value}.{_mac(settings, value)}", max_age=PENDING_SECONDS,
        path=SIGN_IN_PATH, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


def _pending_key(request: Request, settings: Settings) -> int | None:
    """The key id of a live pending cookie, or None."""
    raw = request.cookies.get(PENDING_COOKIE, "")
    value, _, mac = raw.rpartition(".")
    if not value or not signing_key(settings).derive("console-second-factor").verify(value, mac):
        return None
    key_id, expires, _ = value.split(".")
    return int(key_id) if int(expires) > time.time() else None


def _admin_key(settings: Settings, key_id: int) -> ApiKey | None:
    with session_scope(settings) as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None or key.role != "admin":
            return None
        session.expunge(key)
        return key


def _qr_svg(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(scale=5, title="QR code of your second factor")
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="QR code to scan" ', 1))


def _page(
    request: Request, settings: Settings, key: ApiKey, next_path: str, *,
    error: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    """The code form; for a key that has not enrolled, with its QR code and secret."""

    def enrolment() -> str | None:
        with session_scope(settings, write=True) as session:
            if totp.enrolled(session, key.id):
                return None
            row_secret = totp.pending_secret(session, settings, key.id)
            return row_secret or totp.begin_enrolment(session, settings, key.id)

    secret = enrolment()
    token = new_sign_in_token()
    context: dict[str, object] = {
        "sign_in_token": token,
        "next": next_path,
        "error": error,
        "key_name": key.name,
    }
    if secret is not None:
        uri = totp.provisioning_uri(secret, key.name)
        context |= {"enrol": True, "qr": _qr_svg(uri), "secret": secret}
    response = render_bare("second_factor.html", status_code=status, **context)
    set_sign_in_token(response, request, token)
    return response


def _to_sign_in() -> Response:
    response = RedirectResponse(SIGN_IN_PATH, status_code=303)
    response.delete_cookie(PENDING_COOKIE, path=SIGN_IN_PATH)
    return response


@router.get(PATH)
async def second_factor_form(
    request: Request,
    settings: AppSettings,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    key_id = _pending_key(request, settings)
    key = await anyio.to_thread.run_sync(_admin_key, settings, key_id) if key_id else None
    if key is None:
        return _to_sign_in()
    return await anyio.to_thread.run_sync(lambda: _page(request, settings, key, safe_next(next)))


@router.post(PATH)
async def second_factor(
    request: Request,
    settings: AppSettings,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    check_sign_in_token(request, csrf)
    key_id = _pending_key(request, settings)
    key = await anyio.to_thread.run_sync(_admin_key, settings, key_id) if key_id else None
    if key is None:
        return _to_sign_in()
    next_path = safe_next(next)
    actor = audit.Actor(
        key.name, key.role, request.scope.get("state", {}).get("request_id"),
        request.client.host if request.client else None,
    )  # fmt: skip

    def attempt() -> tuple[totp.Check, str | None]:
        with session_scope(settings, write=True) as session:
            result = totp.check_code(session, settings, key.id, code)
            target = f"keys/{key.id}"
            if not result.accepted:
                status = 429 if result.outcome == "locked" else 401
                outcome = "rate_limited" if status == 429 else "denied"
                audit.append(session, actor, ACTION, outcome, target, status,
                             {"reason": result.outcome})  # fmt: skip
                return result, None
            if result.recovery_codes:
                audit.append(session, actor, "console.second_factor_enrol", "ok", target, 200, {})
            details = {"second_factor": "totp" if result.outcome == "ok" else "recovery_code"}
            if result.recovery_left is not None:
                details["recovery_codes_left"] = str(result.recovery_left)
            audit.append(session, actor, ACTION, "ok", target, 303, details)
            token = console_sessions.start(session, key.id)
            audit.append(session, actor, "console.sign_in", "ok", "console", 303, details)
            return result, token

    result, token = await anyio.to_thread.run_sync(attempt)
    if token is None:
        if result.outcome == "not_enrolled":
            return RedirectResponse(f"{PATH}?next={quote(next_path)}", status_code=303)
        if result.outcome == "locked":
            assert result.locked_until is not None
            wait = max(1, int(result.locked_until.timestamp() - time.time()))
            message = f"Too many wrong codes for this key: wait {wait // 60 + 1} minutes."
            response = await anyio.to_thread.run_sync(
                lambda: _page(request, settings, key, next_path, error=message, status=429)
            )
            response.headers["Retry-After"] = str(wait)
            return response
        message = _MESSAGES.get(result.outcome, _MESSAGES["wrong"])
        return await anyio.to_thread.run_sync(
            lambda: _page(request, settings, key, next_path, error=message, status=401)
        )
    if result.recovery_codes:
        response = render_bare("recovery_codes.html", codes=result.recovery_codes, next=next_path)
    else:
        response = RedirectResponse(next_path, status_code=303)
    set_session(response, request, token)
    response.delete_cookie(PENDING_COOKIE, path=SIGN_IN_PATH)
    return response
