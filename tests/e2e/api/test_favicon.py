"""`/favicon.ico`: every browser asks for it on every page; it needs no key and is not audited.

Before, each page view's favicon request was a 401 in the audit log (half of the log of one
console session).
"""

from __future__ import annotations

import httpx


def test_favicon_needs_no_key_and_leaves_no_audit_entry(published) -> None:
    server, _ = published
    with httpx.Client(base_url=server.url) as browser:
        for _ in range(3):
            icon = browser.get("/favicon.ico")
            assert icon.status_code == 200
            assert icon.headers["content-type"].startswith("image/svg+xml")
            assert icon.content.startswith(b"<svg")
    with server.client("admin") as admin:
        entries = admin.get("/api/v1/audit", params={"limit": 1000}).json()["entries"]
    assert not [e for e in entries if "favicon" in (e.get("target") or "")]
