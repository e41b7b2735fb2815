"""Mounting the console on the API app (kept out of the package's __init__ so that
`api.gate`, which the console's sign-in uses, can import `api.console.errors` freely)."""

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
