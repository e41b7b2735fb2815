"""Admin keys sign in to the console with a second factor (TOTP), over HTTP with pyotp's codes.

Enrolment at the first sign-in (QR code drawn locally, the secret stored encrypted, recovery
codes stored as HMACs and shown once), a code on every later sign-in, a code never twice,
recovery codes once each, and failed attempts audited and locked after five in a row.
"""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from second_factor import PATH, next_code, pass_second_factor
from sqlalchemy import text

from moatmetrics.appdb.db import engine_for

PAGE = "/console/uploads"


@pytest.fixture
def console_server(tmp_path: Path, start_server, publish_generation):
    home = tmp_path / "home"
    publish_generation(home, 1)
    return start_server(home)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _key_step(server, role: str = "admin") -> tuple[httpx.Client, httpx.Response]:
    http = httpx.Client(base_url=server.url, timeout=30.0)
    form = http.get("/console/sign-in")
    answer = http.post(
        "/console/sign-in", data={"csrf": _csrf(form.text), "key": server.keys[role]}
    )
    return http, answer


def _send(http: httpx.Client, code: str) -> httpx.Response:
    page = http.get(PATH)
    return http.post(PATH, data={"csrf": _csrf(page.text), "code": code})


def _audit(server, action: str) -> list[dict]:
    with server.client("admin") as admin:
        entries = admin.get("/api/v1/audit", params={"action": action}).json()["entries"]
    return sorted((e for e in entries if e["action"] == action), key=lambda e: e["seq"])


def _sign_out(http: httpx.Client) -> None:
    page = http.get(PAGE)
    http.post("/console/sign-out", data={"csrf": _csrf(page.text)})


def test_an_admin_key_enrols_then_needs_a_fresh_code_each_time(console_server, backend) -> None:
    server, secrets = console_server, {}
    http, answer = _key_step(server)
    with closing(http):
        assert answer.status_code == 303 and answer.headers["location"].startswith(PATH)
        assert "mm_console" not in http.cookies  # the key alone opens nothing
        assert http.get(PAGE).headers["location"].startswith("/console/sign-in")
        enrol = http.get(answer.headers["location"])
        assert '<svg role="img"' in enrol.text and 'id="totp-secret"' in enrol.text
        wrong = _send(http, "000000")
        assert wrong.status_code == 401 and "not right" in wrong.text
        done = pass_second_factor(http, answer, secrets, "admin")
        assert done.status_code == 200 and "Recovery codes" in done.text
        recovery = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)
        assert len(recovery) == 10
        assert http.get("/console/audit").status_code == 200  # signed in, as admin
        _sign_out(http)
    secret = secrets["admin"]
    engine = engine_for(backend.settings(server.home))
    with engine.connect() as connection:
        box, hashes = connection.execute(
            text("SELECT secret_box, recovery_hashes FROM totp_enrolments")
        ).one()
    assert secret not in box and not any(code in hashes for code in recovery)

    # Later sign-ins: no QR code, a code from the app.
    http, answer = _key_step(server)
    with closing(http):
        page = http.get(answer.headers["location"])
        assert "totp-secret" not in page.text
        code = next_code(secret)
        ok = http.post(PATH, data={"csrf": _csrf(page.text), "code": code, "next": PAGE})
        assert ok.status_code == 303 and ok.headers["location"] == PAGE
        _sign_out(http)
    # The same code again (a replay): refused, even though it is still in its window.
    http, _ = _key_step(server)
    with closing(http):
        replay = _send(http, code)
        assert replay.status_code == 401 and "already used" in replay.text
        # A recovery code works once.
        assert _send(http, recovery[0]).status_code == 303
        _sign_out(http)
    http, _ = _key_step(server)
    with closing(http):
        assert _send(http, recovery[0]).status_code == 401
    outcomes = [
        (e["outcome"], e["details"].get("reason")) for e in _audit(server, "console.second_factor")
    ]
    (enrolled,) = _audit(server, "console.second_factor_enrol")
    assert enrolled["actor"].startswith("test-admin-") and enrolled["role"] == "admin"
    assert outcomes == [
        ("denied", "wrong"),
        ("ok", None),
        ("ok", None),
        ("denied", "reused"),
        ("ok", None),
        ("denied", "wrong"),
    ]
    sign_ins = [e for e in _audit(server, "console.sign_in") if e["outcome"] == "ok"]
    assert [e["details"]["second_factor"] for e in sign_ins] == ["totp", "totp", "recovery_code"]


def test_five_wrong_codes_lock_the_second_factor_and_are_audited(console_server) -> None:
    server, secrets = console_server, {}
    http, answer = _key_step(server)
    with closing(http):
        pass_second_factor(http, answer, secrets, "admin")  # enrolled
    http, _ = _key_step(server)
    with closing(http):
        statuses = [_send(http, "123456").status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 429]
        locked = _send(http, next_code(secrets["admin"]))  # right, but locked
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "mm_console" not in http.cookies
    outcomes = [e["outcome"] for e in _audit(server, "console.second_factor")][1:]
    assert outcomes == ["denied"] * 4 + ["rate_limited"] * 2


def test_viewer_and_analyst_keys_need_no_second_factor(console_server) -> None:
    for role in ("viewer", "analyst"):
        http, answer = _key_step(console_server, role)
        with closing(http):
            assert answer.status_code == 303 and answer.headers["location"] == "/console"
            assert http.cookies["mm_console"].startswith("mms_")
