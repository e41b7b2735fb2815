"""Console sessions are server-side: sign-out, expiry and key revocation end them for real.

The cookie used to be the API key itself, so a copied cookie still worked after sign-out and
past the promised 8 hours. Each test replays a cookie captured while signed in.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from moatmetrics.appdb import audit, keys
from moatmetrics.appdb.db import engine_for, session_scope

COOKIE = "mm_console"
PAGE = "/console/uploads"


@pytest.fixture
def console_server(tmp_path: Path, start_server, publish_generation):
    home = tmp_path / "home"
    publish_generation(home, 1)
    return start_server(home)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _sign_in(server, role: str = "viewer") -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=server.url, timeout=30.0)
    form = http.get("/console/sign-in")
    response = http.post(
        "/console/sign-in", data={"csrf": _csrf(form.text), "key": server.keys[role]}
    )
    assert response.status_code == 303, response.text
    set_cookie = response.headers["set-cookie"]
    assert server.keys[role] not in set_cookie  # the key never reaches the browser
    assert "Max-Age=28800" in set_cookie
    token = http.cookies[COOKIE]
    assert token.startswith("mms_")
    return http, token


def _replay(server, token: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, cookies={COOKIE: token}) as stolen:
        return stolen.get(PAGE)


def _signed_out(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(
        "/console/sign-in"
    )


def test_sign_out_ends_the_session_even_for_a_copied_cookie(console_server, backend) -> None:
    http, token = _sign_in(console_server)
    try:
        page = http.get(PAGE)
        assert page.status_code == 200 and _replay(console_server, token).status_code == 200
        out = http.post("/console/sign-out", data={"csrf": _csrf(page.text)})
        assert out.status_code == 303
    finally:
        http.close()
    assert _signed_out(_replay(console_server, token))
    engine = engine_for(backend.settings(console_server.home))
    with engine.connect() as connection:
        hashes = connection.execute(text("SELECT token_hash, ended_reason FROM console_sessions"))
        rows = hashes.all()
    assert [reason for _, reason in rows] == ["signed_out"]
    assert all(token not in token_hash for token_hash, _ in rows)  # only a hash is stored
    with console_server.client("admin") as admin:
        signed_out = admin.get("/api/v1/audit", params={"action": "console.sign_out"}).json()
        assert signed_out["total"] == 1


def test_a_session_expires_after_eight_hours(console_server, backend) -> None:
    http, token = _sign_in(console_server)
    http.close()
    assert _replay(console_server, token).status_code == 200
    with engine_for(backend.settings(console_server.home)).begin() as connection:
        connection.execute(  # eight hours pass
            text("UPDATE console_sessions SET expires_at = created_at")
        )
    assert _signed_out(_replay(console_server, token))


def test_revoking_the_key_ends_its_sessions(console_server, backend) -> None:
    http, token = _sign_in(console_server, "analyst")
    http.close()
    settings = backend.settings(console_server.home)
    with session_scope(settings) as session:
        key = keys.find_key(session, console_server.keys["analyst"][:12])
    with session_scope(settings, write=True) as session:
        keys.revoke_key(session, audit.Actor("tests"), key.id)
    assert _signed_out(_replay(console_server, token))
    with engine_for(settings).connect() as connection:
        reasons = connection.scalars(text("SELECT ended_reason FROM console_sessions")).all()
    assert reasons == ["key_revoked"]


def test_a_raw_api_key_is_not_a_session(console_server) -> None:
    assert _signed_out(_replay(console_server, console_server.keys["admin"]))
