"""The console's stylesheet, script and icon, shipped in the package (no CDN) and cacheable."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from api.problems import not_found

STATIC = Path(__file__).resolve().parent.parent / "static"
FILES = {"console.css": "text/css", "console.js": "text/javascript"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    """People who open the server's address land on the console."""
    return RedirectResponse("/console", status_code=307)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """Every browser asks for it on every page: open, and not audited (it was a 401 in the
    audit log on each page view, half of the log of a console session)."""
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/console/static/{name}")
def asset(name: str) -> FileResponse:
    if name not in FILES:  # a fixed list: no path from the URL ever reaches the filesystem
        raise not_found(f"Console file {name}")
    return FileResponse(
        STATIC / name, media_type=FILES[name], headers={"Cache-Control": "public, max-age=3600"}
    )
