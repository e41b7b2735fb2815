"""Signing in to the console through the organisation's OpenID provider (single sign-on).

`/console/sso/start` begins a sign-in (state, nonce and PKCE verifier kept server-side in
`moatmetrics.appdb.sso_users`; the state also in a cookie MACed with the installation's
`oidc-state` key, so only the browser that started it can finish it) and sends the browser to
the provider. `/console/sso/callback` takes the provider's answer: the state must match the
cookie and be unused, the code is traded for tokens and the ID token validated
(`api.console.oidc`), the person's groups must map to a role, and then the person gets a
console session exactly like a key's: a server-side row, the same cookie, the same gate.

Every outcome is audited as `console.sso_sign_in`: a success with the user, a person without
a mapped group (403) in full with their groups, and anonymous failures (bad or replayed
state, refused tokens) like every refusal without credentials, counted per address.
Signing out is the console's usual sign-out (it ends the session here, not at the provider).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console import oidc
from api.console.session import PREFIX, safe_next, set_session
from api.console.templating import PAGE_HEADERS, render_bare, render_error
from api.dependencies import get_settings
from api.problems import ProblemError
from api.request_gate import Draft, settle
from moatmetrics.appdb import audit, console_sessions, sso_users
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.signing import signing_key
from moatmetrics.settings import Settings

log = logging.getLogger("moatmetrics.api")
router = APIRouter(include_in_schema=False)

START_PATH = f"{PREFIX}/sso/start"
CALLBACK_PATH = f"{PREFIX}/sso/callback"
STATE_COOKIE = "mm_console_sso"
ACTION = "console.sso_sign_in"
AppSettings = Annotated[Settings, Depends(get_settings)]
_TEXT = Annotated[str | None, Query(max_length=2000)]
_NOT_CONFIGURED = ProblemError(
    404, "not-found", "Single sign-on is not configured",
    "Sign in with an API key; an admin offers single sign-on by setting MOATMETRICS_OIDC_ISSUER"
    " and MOATMETRICS_OIDC_CLIENT_ID.",
)  # fmt: skip


def _redirect_uri(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{CALLBACK_PATH}"


def _state_cookie(settings: Settings, state: str) -> str:
    return f"{state}.{signing_key(settings).derive('oidc-state').sign(state)}"


def _cookie_matches(settings: Settings, cookie: str | None, state: str) -> bool:
    if not cookie or "." not in cookie:
        return False
    value, _, mac = cookie.rpartition(".")
    return value == state and signing_key(settings).derive("oidc-state").verify(value, mac)


def _actor(request: Request) -> audit.Actor:
    return audit.Actor(
        "anonymous", None, request.scope.get("state", {}).get("request_id"),
        request.client.host if request.client else None,
    )  # fmt: skip


def _page(status: int, title: str, detail: str) -> HTMLResponse:
    response = HTMLResponse(render_error(status, title, detail), status, headers=PAGE_HEADERS)
    response.delete_cookie(STATE_COOKIE, path=f"{PREFIX}/sso")
    return response


async def _refuse(
    request: Request, settings: Settings, reason: str, message: str, status: int = 401
) -> Response:
    """An anonymous failure: audited like any refusal without credentials (per address)."""
    actor = _actor(request)
    draft = Draft(actor, ACTION, "denied", "console/sso", status, {"reason": reason})
    address = actor.client_addr or "unknown"

    def record() -> None:
        with session_scope(settings, write=True) as session:
            settle(session, settings, None, draft, refused_addr=address)

    await anyio.to_thread.run_sync(record)
    return _page(status, "Single sign-on failed", message)


@router.get(START_PATH)
async def sso_start(
    request: Request,
    settings: AppSettings,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    if not settings.oidc_enabled:
        raise _NOT_CONFIGURED

    def begin() -> sso_users.PendingSignIn:
        with session_scope(settings, write=True) as session:
            return sso_users.begin(session, safe_next(next))

    try:
        pending = await anyio.to_thread.run_sync(begin)
    except sso_users.TooManySignIns:
        busy = _page(429, "Too many sign-ins", "Too many sign-ins are under way: try again.")
        busy.headers["Retry-After"] = str(sso_users.SIGN_IN_MINUTES * 60)
        return busy
    try:
        url = await anyio.to_thread.run_sync(
            lambda: oidc.authorization_url(
                settings,
                _redirect_uri(request),
                pending.state,
                pending.nonce,
                pending.code_verifier,
            )  # fmt: skip
        )
    except oidc.SsoError as exc:
        log.warning("single sign-on unavailable: %s", exc.reason)
        return _page(502, "Single sign-on is unavailable", exc.message)
    response = Response(status_code=303, headers={"Location": url, **PAGE_HEADERS})
    # Lax, not Strict: the provider's redirect back is a cross-site navigation.
    response.set_cookie(
        STATE_COOKIE, _state_cookie(settings, pending.state),
        max_age=sso_users.SIGN_IN_MINUTES * 60, path=f"{PREFIX}/sso", httponly=True,
        samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get(CALLBACK_PATH)
async def sso_callback(
    request: Request,
    settings: AppSettings,
    state: _TEXT = None,
    code: _TEXT = None,
    error: _TEXT = None,
) -> Response:
    if not settings.oidc_enabled:
        raise _NOT_CONFIGURED
    if error:
        return await _refuse(
            request, settings, f"provider_error:{error[:64]}",
            f"The sign-in provider did not sign you in ({error}). Start again from the sign-in"
            " page.",
        )  # fmt: skip
    if (
        not state
        or not code
        or not _cookie_matches(settings, request.cookies.get(STATE_COOKIE), state)
    ):
        return await _refuse(
            request, settings, "state_mismatch",
            "This sign-in was not started in this browser (or its cookie expired). Start again"
            " from the sign-in page.",
        )  # fmt: skip

    def claim() -> sso_users.PendingSignIn | None:
        with session_scope(settings, write=True) as session:
            return sso_users.claim_sign_in(session, state)

    pending = await anyio.to_thread.run_sync(claim)
    if pending is None:
        return await _refuse(
            request, settings, "state_used_or_expired",
            "This sign-in was already completed or is more than "
            f"{sso_users.SIGN_IN_MINUTES} minutes old. Start again from the sign-in page.",
        )  # fmt: skip
    try:
        claims = await anyio.to_thread.run_sync(
            lambda: oidc.exchange_code(
                settings, _redirect_uri(request), code, pending.code_verifier, pending.nonce
            )
        )
    except oidc.SsoError as exc:
        return await _refuse(request, settings, exc.reason, exc.message)
    return await anyio.to_thread.run_sync(lambda: _admit(request, settings, claims, pending))


def _admit(
    request: Request, settings: Settings, claims: dict[str, Any], pending: sso_users.PendingSignIn
) -> Response:
    """A person the provider vouched for: a session if a group maps to a role, else 403."""
    groups = sso_users.claim_values(claims, settings.oidc_role_claim)
    role = sso_users.mapped_role(settings, groups)
    clients = sso_users.mapped_clients(settings, groups)
    # A client-scoped person cannot be admin (admins see every client's keys and audit log).
    refusal = "no_mapped_group" if role is None else None
    if clients is not None and role == "admin":
        refusal = "scoped_admin"
    issuer = settings.oidc_issuer or ""
    details = {"issuer": issuer, "subject": str(claims.get("sub")), "groups": sorted(groups),
               "clients": None if clients is None else sorted(clients)}  # fmt: skip
    base = _actor(request)
    with session_scope(settings, write=True) as session:
        if refusal is not None or role is None:
            actor = sso_users.refusal_actor(claims, base)
            audit.append(session, actor, ACTION, "denied", "console/sso", 403,
                         {**details, "reason": refusal})  # fmt: skip
        else:
            user = sso_users.sign_in_user(session, issuer, claims, role, groups, clients)
            actor = audit.Actor(user.actor_name, role, base.request_id, base.client_addr)
            token = console_sessions.start_for_user(session, user.id)
            audit.append(session, actor, ACTION, "ok", "console/sso", 200,
                         {**details, "user_id": user.id, "created": user.created})  # fmt: skip
    if refusal == "scoped_admin":
        return _page(
            403, "No access to MoatMetrics",
            f"You signed in as {actor.name}. Your groups give the admin role and also limit"
            " you to some clients (MOATMETRICS_OIDC_GROUP_CLIENTS); a client-scoped person"
            " cannot be admin. Ask an admin to change your groups or the mapping.",
        )  # fmt: skip
    if role is None:
        listed = ", ".join(groups) or "none"
        return _page(
            403, "No access to MoatMetrics",
            f"You signed in as {actor.name}, but none of your groups ({listed})"
            " is given a MoatMetrics role. Ask an admin to add you to a group mapped in"
            " MOATMETRICS_OIDC_GROUP_ROLES.",
        )  # fmt: skip
    # A page, not a redirect: the session cookie is SameSite=Strict, and a browser does not send
    # it on a redirect chain that began at the provider; this page's refresh is same-site.
    response = render_bare("sso_signed_in.html", next=pending.next_path)
    set_session(response, request, token)
    response.delete_cookie(STATE_COOKIE, path=f"{PREFIX}/sso")
    return response
