"""The console's browser session: a server-side session token in an HttpOnly cookie, CSRF.

The cookie holds a random session token (`moatmetrics.appdb.console_sessions`), never the API
key: the session row in the app database says which key it acts for, and ends on sign-out,
after 8 hours, or when the key is revoked, so a copied cookie stops working then too. The
gate (`api.request_gate`) authenticates a console page from that row and then treats it exactly like
an API call (the key's rate limit, role and audit entry); API workers share nothing but the
app database. The cookie is HttpOnly (no script can read it), SameSite=Strict (no other site
can make the browser send it), scoped to /console, and Secure whenever the console is served
over HTTPS.

CSRF: every form carries a token. Signed in, it is an HMAC of the session token (a
synchronizer token no other site can compute, the same in every worker, no storage); on the
sign-in form, before there is a session, it is a random value also set in a short-lived
cookie (double submit). A POST without the right token is refused with 403.
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
from moatmetrics.appdb.console_sessions import SESSION_HOURS

PREFIX = "/console"
SESSION_COOKIE = "mm_console"
SIGN_IN_COOKIE = "mm_console_signin"
SIGN_IN_PATH = f"{PREFIX}/sign-in"
_CSRF_CONTEXT = b"moatmetrics-console-csrf-v1"


def is_console(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path == PREFIX or path.startswith(PREFIX + "/")


def safe_next(target: str | None) -> str:
    """Only a console path: never an absolute URL or //host (no open redirect)."""
    if target and target.startswith(PREFIX) and "//" not in target and "\\" not in target:
        return target
    return PREFIX


def session_token(scope: Scope) -> str | None:
    """The session token of a console request (its cookie), for the gate to admit."""
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


def csrf_token(token: str) -> str:
    """The session's CSRF token: HMAC keyed by the session token (only its holder can compute
    it)."""
    return hmac.new(token.encode("utf-8"), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, path=PREFIX, httponly=True,
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
    key = session_token(request.scope)
    if not key or not csrf_token_field:
        raise csrf_refused()
    if not hmac.compare_digest(csrf_token_field, csrf_token(key)):
        raise csrf_refused()


def check_sign_in_token(request: Request, submitted: str | None) -> None:
    """Double submit on the sign-in form: the field must equal the sign-in cookie."""
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if not expected or not submitted or not hmac.compare_digest(submitted, expected):
        raise csrf_refused()
