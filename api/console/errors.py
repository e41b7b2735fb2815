"""API problems turned into what a browser needs on console paths: a sign-in redirect or a page.

The gate and the app's problem handlers answer JSON problems (RFC 9457) for the API. On
/console the same refusals (401, 403, 404, 422, 503...) keep their status and text but
arrive as an HTML page, and a GET without a valid session is sent to the sign-in page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from api.console.session import SIGN_IN_PATH, clear_session, is_console, session_token
from api.console.templating import PAGE_HEADERS, render_error
from api.problems import ProblemError

_KEPT_HEADERS = ("retry-after", "x-request-id", "ratelimit-")
Handler = Callable[[Request, Exception], Awaitable[Response]]


def browser_response(scope: Scope, response: Response) -> Response:
    """The response for a browser on a console path; anything else is returned unchanged."""
    if not is_console(scope) or not isinstance(response, JSONResponse):
        return response
    status = response.status_code
    keep = {k: v for k, v in response.headers.items() if k.lower().startswith(_KEPT_HEADERS)}
    if status == 401 and scope.get("method") in ("GET", "HEAD"):
        target = scope.get("path", "/console")
        redirect = RedirectResponse(
            f"{SIGN_IN_PATH}?next={quote(target)}", status_code=303, headers=keep
        )
        if session_token(scope):
            clear_session(redirect)
        return redirect
    problem = json.loads(bytes(response.body))
    page = render_error(status, problem.get("title", "Error"), problem.get("detail", ""))
    return HTMLResponse(page, status_code=status, headers={**keep, **PAGE_HEADERS})


def _for_browsers(api_handler: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        return browser_response(request.scope, await api_handler(request, exc))

    return handler


def install_html_errors(app: FastAPI) -> None:
    """Wrap the app's problem handlers (api.problems) so console paths get HTML."""
    for kind in (ProblemError, StarletteHTTPException, RequestValidationError, Exception):
        api_handler = app.exception_handlers.get(kind)
        if api_handler is not None:
            app.add_exception_handler(kind, _for_browsers(api_handler))
