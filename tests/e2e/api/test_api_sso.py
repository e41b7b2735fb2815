"""Single sign-on to the console against a real, certified OpenID provider, over HTTP.

The provider is panva's `oidc-provider` (tests/oidc_provider/server.mjs) on loopback; the API is
uvicorn. httpx plays the browser through the whole redirect flow: the console's start, the
provider's authorization endpoint, its sign-in of a test account, the console's callback
(code + PKCE exchanged server to server, ID token validated), the console page after it.

The failures a certified provider will not produce on purpose come from providers set up to
misbehave (server.mjs --mode): a token for another client, a provider clock two hours late,
and a published key that is not the signing key. Real tokens in every case, no mocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from oidc_server import CLIENT_ID, CLIENT_SECRET, OidcProvider, sso_sign_in
from sqlalchemy import text

from moatmetrics.appdb.db import engine_for

GROUP_ROLES = "msp-admins=admin,msp-analysts=analyst,msp-viewers=viewer"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], OidcProvider]]:
    """Factory: one provider process per mode, started when a test first needs it."""
    started: dict[str, OidcProvider] = {}

    def get(mode: str) -> OidcProvider:
        if mode not in started:
            log = tmp_path_factory.mktemp(f"oidc-{mode}") / "provider.log"
            started[mode] = OidcProvider(mode, log)
        return started[mode]

    yield get
    for running in started.values():
        running.stop()


@pytest.fixture
def sso_server(tmp_path: Path, start_server, publish_generation, provider):
    """Factory: an API server whose console signs in through the provider of `mode`."""

    def start(mode: str = "normal", **env: str):
        home = tmp_path / f"home-{mode}"
        publish_generation(home, 1)
        secret_file = tmp_path / "oidc-client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n")
        return start_server(
            home,
            MOATMETRICS_OIDC_ISSUER=provider(mode).issuer,
            MOATMETRICS_OIDC_CLIENT_ID=CLIENT_ID,
            MOATMETRICS_OIDC_CLIENT_SECRET_FILE=str(secret_file),
            MOATMETRICS_OIDC_SCOPES="openid email profile groups",
            MOATMETRICS_OIDC_GROUP_ROLES=GROUP_ROLES,
            **env,
        )

    return start


def _landing(answer: httpx.Response) -> str:
    """Where the signed-in page's refresh sends the browser."""
    target = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', answer.text)
    assert target, answer.text
    return target.group(1)


# A signed-in page that renders on both back ends' test warehouses (the overview, /console,
# needs the pipeline's marts, which the PostgreSQL test warehouse does not fully have).
PAGE = "/console/uploads"


def _audit(server, **params: str) -> list[dict]:
    with server.client("admin") as admin:
        return admin.get("/api/v1/audit", params=params).json()["entries"]


def _sso_users(server, backend) -> list[tuple]:
    engine = engine_for(backend.settings(server.home))
    with engine.connect() as connection:
        query = "SELECT actor_name, role, email, subject FROM sso_users ORDER BY id"
        return [tuple(row) for row in connection.execute(text(query))]


def test_sign_in_lands_on_the_console_with_the_mapped_role_and_is_audited(
    sso_server, backend
) -> None:
    server = sso_server()
    http, answer = sso_sign_in(server.url, "alice")
    with closing(http):
        assert answer.status_code == 200, answer.text
        assert http.cookies["mm_console"].startswith("mms_")
        assert _landing(answer) == "/console"
        console = http.get(PAGE)
        assert console.status_code == 200 and console.url.path == PAGE
        assert "sso:alice" in console.text and "(admin)" in console.text
        assert http.get("/console/audit").status_code == 200  # an admin page: the role holds
        # The console's usual sign-out ends the session.
        csrf = re.search(r'name="csrf" value="([^"]+)"', console.text).group(1)
        assert http.post("/console/sign-out", data={"csrf": csrf}).url.path == "/console/sign-in"
    (entry,) = _audit(server, action="console.sso_sign_in")
    assert (entry["actor"], entry["role"], entry["outcome"]) == ("sso:alice", "admin", "ok")
    details = entry["details"]
    assert details["subject"] == "alice" and details["created"] is True
    assert details["groups"] == ["msp-admins", "staff"]
    # The gate admits the session like a key's: each page audited with the user as actor.
    actions = {e["action"] for e in _audit(server, actor="sso:alice")}
    assert actions >= {"uploads.read", "audit.read", "console.sign_out"}
    assert _sso_users(server, backend) == [("sso:alice", "admin", "alice@msp.example", "alice")]
    assert CLIENT_SECRET not in server.log_path.read_text()  # never logged

    # A second person, another group: analyst, and the admin pages stay closed.
    http, answer = sso_sign_in(server.url, "anna")
    with closing(http):
        assert "(analyst)" in http.get(PAGE).text
        assert http.get("/console/audit").status_code == 403
    assert [row[:2] for row in _sso_users(server, backend)] == [
        ("sso:alice", "admin"),
        ("sso:anna", "analyst"),
    ]


def test_a_person_without_a_mapped_group_is_refused_and_audited(sso_server, backend) -> None:
    server = sso_server()
    http, answer = sso_sign_in(server.url, "carol")
    with closing(http):
        assert answer.status_code == 403
        assert "No access to MoatMetrics" in answer.text and "contractors" in answer.text
        assert "mm_console" not in http.cookies
        assert http.get("/console").url.path == "/console/sign-in"
    (entry,) = _audit(server, action="console.sso_sign_in")
    assert (entry["actor"], entry["outcome"], entry["status"]) == ("sso:carol", "denied", 403)
    assert entry["details"]["reason"] == "no_mapped_group"
    assert entry["details"]["groups"] == ["contractors"]
    assert _sso_users(server, backend) == []  # nobody is created without access


def test_a_group_mapped_to_clients_limits_its_members_to_them(sso_server, backend) -> None:
    """MOATMETRICS_OIDC_GROUP_CLIENTS: Anna (msp-analysts) sees Globex (C2) only; Alice, whose
    groups give admin and also a client scope, is refused (a scoped person is never admin)."""
    server = sso_server(MOATMETRICS_OIDC_GROUP_CLIENTS="msp-analysts=C2;staff=C1")
    http, answer = sso_sign_in(server.url, "anna")
    with closing(http):
        assert answer.status_code == 200, answer.text
        clients = http.get("/console/clients")
        assert clients.status_code == 200
        assert "Globex" in clients.text and "Acme" not in clients.text
        assert http.get("/console/clients/C1").status_code == 404
        assert http.get("/console/uploads").status_code == 403  # every client's uploads
        assert http.get("/console").url.path == "/console/clients"
    (entry,) = _audit(server, action="console.sso_sign_in")
    assert entry["details"]["clients"] == ["C2"] and entry["outcome"] == "ok"
    http, answer = sso_sign_in(server.url, "alice")
    with closing(http):
        assert answer.status_code == 403 and "cannot be admin" in answer.text
        assert "mm_console" not in http.cookies
    entries = _audit(server, action="console.sso_sign_in")
    refused = [e["details"]["reason"] for e in entries if e["outcome"] == "denied"]
    assert refused == ["scoped_admin"]
    assert [row[:2] for row in _sso_users(server, backend)] == [("sso:anna", "analyst")]


def test_a_replayed_callback_is_refused_and_audited(sso_server) -> None:
    server = sso_server()
    http, answer = sso_sign_in(server.url, "alice")
    callback = str(answer.url)
    # The same state (and code), replayed with the cookies the browser sent, state cookie too.
    cookie = answer.request.headers["cookie"]
    assert "mm_console_sso=" in cookie
    with closing(http):
        assert answer.status_code == 200
    replay = httpx.get(callback, headers={"cookie": cookie}, timeout=30.0)
    assert replay.status_code == 401
    assert "already completed" in replay.text
    assert "mm_console=" not in replay.headers.get("set-cookie", "")
    refused = [e for e in _audit(server, action="console.sso_sign_in") if e["outcome"] == "denied"]
    assert [e["details"]["reason"] for e in refused] == ["state_used_or_expired"]
    assert refused[0]["actor"] == "anonymous"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong-audience", "wrong_audience"),
        ("clock-behind", "expired"),
        ("foreign-key", "bad_signature"),
    ],
)
def test_an_id_token_that_fails_validation_gets_no_session(sso_server, mode, reason) -> None:
    server = sso_server(mode)
    http, answer = sso_sign_in(server.url, "alice")
    with closing(http):
        assert answer.status_code == 401, answer.text
        assert "Single sign-on failed" in answer.text
        assert "mm_console" not in http.cookies
    (entry,) = _audit(server, action="console.sso_sign_in")
    assert (entry["actor"], entry["outcome"]) == ("anonymous", "denied")
    assert entry["details"]["reason"] == reason, json.dumps(entry)
