"""HTTP Strict Transport Security on every response served over TLS.

When `moatmetrics serve --certfile --keyfile` serves HTTPS itself, browsers are told to use
nothing but HTTPS for this host for a year, so a later plain-http link cannot expose a session
cookie (which is Secure over TLS anyway, `api.console.session`). Over plain HTTP (loopback, or
behind a proxy that terminates TLS and sets the header itself) nothing is added: HSTS sent over
HTTP is ignored by browsers and would be a lie.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000"


class StrictTransportSecurity:
    """Pure ASGI middleware: adds `Strict-Transport-Security` when the scope is HTTPS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_hsts)
