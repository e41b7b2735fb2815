"""Jinja2 pages of the console: autoescaped templates, number formats, the signed-in context.

Everything a page needs (CSS, script, charts) is served by this process: no CDN, no
outbound request from a browser that opens the console.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.console.session import csrf_token, session_token
from moatmetrics.appdb.keys import Principal

TEMPLATES = Path(__file__).parent / "templates"

# (label, path, minimum role): the navigation shows only what the role may open.
NAV = (
    ("Overview", "/console", "viewer"),
    ("Insights", "/console/insights", "viewer"),
    ("What if", "/console/what-if", "viewer"),
    ("Clients", "/console/clients", "viewer"),
    ("Staff", "/console/staff", "viewer"),
    ("Reviews", "/console/reviews", "analyst"),
    ("Corrections", "/console/corrections", "analyst"),
    ("Uploads", "/console/uploads", "viewer"),
    ("Mappings", "/console/mappings", "viewer"),
    ("Reports", "/console/reports", "viewer"),
    ("Audit", "/console/audit", "admin"),
)
# What a client-scoped caller may open (`api.client_scope`); the rest would be 403.
SCOPED_NAV = frozenset({"/console/clients", "/console/reports"})


def _nav(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    return [
        (label, path)
        for label, path, role in NAV
        if principal.has_role(role) and (principal.clients is None or path in SCOPED_NAV)
    ]


def money(value: Any) -> str:
    if value is None:
        return "–"
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.0f}"


def percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.{digits}f} %"


def hours(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.0f} h"


def month(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.strftime("%b %Y")
    return str(value or "–")


def product(row: Any) -> str:
    """Vendor and product, without repeating a vendor the product name already starts with."""
    vendor = row["vendor"] if isinstance(row, dict) else row.vendor
    name = row["product"] if isinstance(row, dict) else row.product
    return name if not vendor or name.startswith(vendor) else f"{vendor} {name}"


def row_key(value: Any) -> str:
    """A review item's row key (JSON list of the grain values) as people read it."""
    try:
        parts = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return " · ".join(str(p) for p in parts) if isinstance(parts, list) else str(parts)


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "–")


# Console pages load only their own CSS and script, may not be framed (no clickjacking of
# the review buttons) and post forms only back to this server.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    money=money,
    percent=percent,
    hours=hours,
    month=month,
    when=when,
    product=product,
    row_key=row_key,
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A full page for the signed-in principal: navigation by role and the form token."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    key = session_token(request.scope)
    nav = _nav(principal)
    page = _env.get_template(template).render(
        principal=principal,
        csrf=csrf_token(key) if key else "",
        nav=nav,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(page, status_code=status_code, headers=PAGE_HEADERS)


def render_bare(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page outside the signed-in frame (sign-in)."""
    page = _env.get_template(template).render(principal=None, nav=[], path="", **context)
    return HTMLResponse(page, status_code=status_code, headers=PAGE_HEADERS)


def render_error(status: int, title: str, detail: str) -> str:
    return _env.get_template("error.html").render(
        principal=None, nav=[], path="", status=status, title=title, detail=detail
    )
