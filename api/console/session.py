"""The console's browser session: the API key in an HttpOnly cookie, CSRF tokens, HTML errors.

Why a cookie that holds the key itself rather than a server-side session table: the gate
(`api.request_gate`) then authenticates a console page exactly like an API call (same key lookup,
revocation from the next request, rate limit, role, audit entry), any number of API workers
share nothing but the app database, and signing out or revoking the key ends the session.
The cookie is HttpOnly (no script can read it), SameSite=Strict (no other site can make the
browser send it), scoped to /console, and Secure whenever the console is served over HTTPS.

CSRF: every form carries a token. Signed in, it is an HMAC of the session's key (a
synchronizer token no other site can compute, the same in every worker, no storage); on the
sign-in form, before there is a key, it is a random value also set in a short-lived cookie
(double submit). A POST without the right token is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Form, Request
from fastapi.responses import Response
from starlette.datastructures import Headers
from starlette.types import Scope

from api.problems import ProblemError

PREFIX = "/console"
SESSION_COOKIE = "mm_console"
SIGN_IN_COOKIE = "mm_console_signin"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
SESSION_HOURS = 8
_CSRF_CONTEXT = b"moatmetrics-console-csrf-v1"


def is_console(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path == PREFIX or path.startswith(PREFIX + "/")


def session_key(scope: Scope) -> str | None:
    """The API key of a console request (from its session cookie), for the gate to admit."""
    cookies = _cookies(Headers(scope=scope))
    return cookies.get(SESSION_COOKIE) or None


def _cookies(headers: Headers) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name not in jar:
                jar[name] = value
    return jar


def csrf_token(key: str) -> str:
    """The session's CSRF token: HMAC of its key (nobody without the key can compute it)."""
    return hmac.new(key.encode("utf-8"), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, key: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, key, max_age=SESSION_HOURS * 3600, path=PREFIX, httponly=True,
        samesite="strict", secure=_secure(request),
    )  # fmt: skip
    response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN_PATH)


def set_sign_in_token(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=3600, path=SIGN_IN_PATH, httponly=True,
        samesite="strict", secure=_secure(request),
    )  # fmt: skip


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict")


def csrf_refused() -> ProblemError:
    return ProblemError(
        403,
        "csrf",
        "Form token missing or wrong",
        "This form was not sent by a MoatMetrics console page you opened (its CSRF token is "
        "missing or wrong). Reload the page and send the form again.",
    )


def require_csrf(request: Request, csrf_token_field: str | None = Form(None, alias="csrf")) -> None:
    """Dependency of every signed-in console POST: the form's token must match the session."""
    key = session_key(request.scope)
    if not key or not csrf_token_field:
        raise csrf_refused()
    if not hmac.compare_digest(csrf_token_field, csrf_token(key)):
        raise csrf_refused()


def check_sign_in_token(request: Request, submitted: str | None) -> None:
    """Double submit on the sign-in form: the field must equal the sign-in cookie."""
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if not expected or not submitted or not hmac.compare_digest(submitted, expected):
        raise csrf_refused()
