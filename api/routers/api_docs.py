"""The interactive API reference (`/docs`, Swagger UI) and `/redoc`, served offline.

FastAPI's default pages load their scripts, styles, favicon and (ReDoc) Google Fonts from
public CDNs: blank on an offline machine, and an outbound request from every browser that opens
them, against the product's promise that nothing leaves the machine. The assets come instead
from the `fastapi-offline` package on PyPI (pinned in requirements.lock), served by the API
itself; Swagger UI's online spec validator is switched off for the same reason. ReDoc's
sidebar still links an image on cdn.redoc.ly, unconditionally, so both pages are sent with a
Content-Security-Policy that lets the browser load nothing from anywhere but this server.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from api.problems import not_found

ASSETS = files("fastapi_offline") / "static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
ASSET_URL = "/docs/assets/{name}"
TITLE = "MoatMetrics API"
#: Both pages run an inline start-up script and inline styles; ReDoc searches in a blob: worker.
SAME_ORIGIN_ONLY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)

router = APIRouter(include_in_schema=False)


def _asset_url(name: str) -> str:
    return ASSET_URL.format(name=name)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return page


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{TITLE} - reference",
        swagger_js_url=_asset_url("swagger-ui-bundle.js"),
        swagger_css_url=_asset_url("swagger-ui.css"),
        swagger_favicon_url=_asset_url("favicon.png"),
        swagger_ui_parameters={"validatorUrl": None},  # no call to validator.swagger.io
    )
    return _same_origin_only(page)


@router.get("/redoc")
def redoc() -> HTMLResponse:
    page = get_redoc_html(
        openapi_url="/openapi.json",
        title=f"{TITLE} - ReDoc",
        redoc_js_url=_asset_url("redoc.standalone.js"),
        redoc_favicon_url=_asset_url("favicon.png"),
        with_google_fonts=False,
    )
    return _same_origin_only(page)


@router.get(ASSET_URL)
def asset(name: str) -> Response:
    if name not in ASSET_TYPES:  # a fixed list: no path from the URL reaches the filesystem
        raise not_found(f"Documentation file {name}")
    return Response(
        (ASSETS / name).read_bytes(),
        media_type=ASSET_TYPES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )
