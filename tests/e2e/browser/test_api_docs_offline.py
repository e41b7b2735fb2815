"""`/docs` and `/redoc` in a real browser: they render, and no request leaves loopback.

FastAPI's stock pages fetch Swagger UI, ReDoc and Google Fonts from public CDNs; these pages
must work on a machine with no network and must not make a browser call out (the privacy
promise). Every request the page makes is recorded, and any whose host is not loopback fails.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from console_home import Console
from playwright.sync_api import Request, expect
from test_console_browser import browser, open_page  # noqa: F401  (fixtures)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _left_the_machine(request: Request) -> bool:
    """A request to another host that the browser did send: one refused by the page's
    Content-Security-Policy (failure `csp`) never reaches the network."""
    url = urlsplit(request.url)
    if url.scheme in ("data", "blob") or url.hostname in LOOPBACK:
        return False
    request.response()  # waits until the request has settled, answered or failed
    return "csp" not in (request.failure or "").lower()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/docs", "#swagger-ui .information-container"),
        ("/redoc", "redoc h1"),
    ],
)
def test_api_reference_renders_offline(console: Console, open_page, path, rendered) -> None:  # noqa: F811
    page = open_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(console.url + path, wait_until="networkidle")
    expect(page.locator(rendered).first).to_contain_text("MoatMetrics API")
    assert any(r.url.endswith("/openapi.json") for r in requests)  # it loaded the spec
    outside = [request.url for request in requests if _left_the_machine(request)]
    assert not outside, f"{path} made requests off this machine: {outside}"
