"""The web console: server-rendered pages for people, served by the API process at /console.

It is a client of the same rules as the HTTP API, not a second implementation: every page is
a route declaring `Authorize(role, action)`, so the gate (`api.gate`) admits, rate-limits,
authorises and audits it exactly like an API call; the only difference is that the key comes
from the session cookie (`api.console.session`) instead of a Bearer header. Decisions and
uploads call the same functions as `POST /api/v1/reviews/{id}/decision` and
`POST /api/v1/uploads`. See docs/console.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.console.errors import install_html_errors
from api.console.routers import (
    audit_log,
    auth,
    clients,
    overview,
    reports,
    review_queue,
    static,
    upload_pages,
)


def install_console(app: FastAPI) -> None:
    """Add the console's routers and its HTML error pages (after the API's problem handlers)."""
    for module in (static, auth, overview, clients, review_queue, upload_pages, reports, audit_log):
        app.include_router(module.router)
    install_html_errors(app)
