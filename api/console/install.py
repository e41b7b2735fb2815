"""Mounting the console on the API app, and the console as the gate sees it (`CONSOLE_FRONT`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import Scope

from api.console.errors import browser_response, install_html_errors
from api.console.routers import (
    audit_log,
    auth,
    clients,
    corrections,
    insights,
    mappings,
    overview,
    reports,
    review_queue,
    second_factor,
    sso,
    staff,
    static,
    upload_pages,
    what_if,
)
from api.console.session import is_console, session_token


class ConsoleFront:
    """The console for the gate (`api.request_gate.BrowserFront`): /console, cookie, pages."""

    def owns(self, scope: Scope) -> bool:
        return is_console(scope)

    def session_token(self, scope: Scope) -> str | None:
        return session_token(scope)

    def response(self, scope: Scope, response: Response) -> Response:
        return browser_response(scope, response)


CONSOLE_FRONT = ConsoleFront()


def install_console(app: FastAPI) -> None:
    """Add the console's routers and its HTML error pages (after the API's problem handlers)."""
    for module in (
        static, auth, overview, insights, what_if, clients, staff, review_queue, corrections,
        upload_pages, mappings, reports, audit_log,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(sso.router)  # single sign-on (OpenID Connect)
    app.include_router(second_factor.router)  # TOTP for admin keys
    install_html_errors(app)
