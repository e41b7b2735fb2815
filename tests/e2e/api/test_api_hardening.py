"""Issue 20, the API side: what an adversarial probe broke, each reproduced over real HTTP.

- an anonymous flood of 60 KB queries no longer grows the app database (capped details,
  refusals counted per address and minute, 429 past the anonymous limit);
- a key sent in a URL is never stored in clear in the audit log;
- a NUL in the URL path is a clean 400 (it was a 500 on PostgreSQL);
- a damaged CURRENT pointer is a 503 with a clear problem, and /health says so;
- deleting or replacing app.db under a running API gives 503, never a split log, and the
  empty log that follows does not verify;
- a forged entry with a correct hash, and a truncation that rewrites the head, are reported
  by `audit verify` (API and CLI) thanks to the signatures and the signed checkpoint;
- `X-Forwarded-For` names the client only when the request comes from a trusted proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serving import free_port, wait_for_api
from sqlalchemy import text

from moatmetrics.appdb import audit
from moatmetrics.appdb.db import engine_for

CP = "/api/v1/marts/client_profitability"
PROBLEM = "application/problem+json"
BIN = Path(sys.executable).parent / "moatmetrics"


@pytest.fixture
def fresh(tmp_path: Path, start_server, publish_generation):
    """A server of its own (these tests change its home) with one published snapshot."""

    def start(**env: str):
        home = tmp_path / "home"
        publish_generation(home, 1)
        return start_server(home, **env)

    return start


def _app_db_bytes(backend, home: Path) -> int:
    """The app database's size: PostgreSQL's database size, or SQLite's files on disk."""
    engine = engine_for(backend.settings(home))
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            return connection.scalar(text("SELECT pg_database_size(current_database())"))
    # SQLite: the bytes on disk, the write-ahead log and its index included.
    database = Path(engine.url.database)
    files = (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
    return sum(path.stat().st_size for path in files if path.exists())


def _entries(server, **params) -> list[dict]:
    with server.client("admin") as admin:
        return admin.get("/api/v1/audit", params={"limit": 1000, **params}).json()["entries"]


def _verify_cli(backend, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **backend.env(home), "DO_NOT_TRACK": "1"}
    return subprocess.run(
        [str(BIN), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )


def test_an_anonymous_flood_of_60_kb_queries_stays_under_a_mebibyte(fresh, backend) -> None:
    server = fresh(MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE="60")
    before = _app_db_bytes(backend, server.home)
    url = f"{CP}?client_id={'A' * 60_000}"
    sent, statuses = 1000, {}
    first_window = int(time.time() // 60)
    with httpx.Client(base_url=server.url, timeout=30.0) as nobody:
        for _ in range(sent):
            status = nobody.get(url).status_code
            statuses[status] = statuses.get(status, 0) + 1
    windows = int(time.time() // 60) - first_window + 1
    grown = _app_db_bytes(backend, server.home) - before
    # Uncapped, every refusal stored its 60 KB query: 1000 of them were about 60 MB.
    assert grown < 2**20, f"the app database grew by {grown} bytes"
    assert set(statuses) <= {401, 429} and statuses.get(429, 0) >= sent - 60 * windows

    anonymous = _entries(server, actor="anonymous")
    full = [e for e in anonymous if e["action"] != "auth.refusals"]
    # One entry in full per address and window (plus one summary per finished window).
    assert 1 <= len(full) <= windows and len(anonymous) <= 2 * windows
    first = full[-1]
    assert first["details"]["query_bytes"] > 60_000
    assert len(json.dumps(first["details"])) < 4096
    with server.client("admin") as admin:
        assert admin.get("/api/v1/audit/verify").json()["valid"] is True


def test_a_key_in_the_url_is_never_stored_in_clear(fresh, backend) -> None:
    server = fresh()
    secret = server.keys["viewer"]
    prefix = secret[:12]
    with httpx.Client(base_url=server.url) as nobody:
        assert nobody.get(CP, params={"key": secret}).status_code == 401
    with server.client("analyst") as analyst:
        assert analyst.get(CP, params={"api_key": secret}).status_code == 422
        assert analyst.get(CP, params={"client_id": f"x{secret}y"}).status_code == 200
        assert analyst.get(f"/api/v1/{secret}").status_code == 404
    with server.client("admin") as admin:
        exported = admin.get("/api/v1/audit/export", params={"format": "jsonl"}).text
    assert secret not in exported and secret[13:] not in exported
    assert prefix in exported  # the public prefix still says which key it was
    with engine_for(backend.settings(server.home)).connect() as connection:
        stored = connection.execute(text("SELECT target, details FROM audit_log")).all()
    assert stored and not any(secret[13:] in f"{t}{d}" for t, d in stored)


def test_a_nul_in_the_path_is_a_clean_400(fresh) -> None:
    server = fresh()
    paths = [
        "/api/v1/uploads/%00",
        "/api/v1/marts/client_profitability%00",
        "/api/v1/reviews/1%00",
        "/console/clients/C1%00",
        "/api/v1/%00/x",
    ]
    for role in (None, "viewer", "admin"):
        with server.client(role) as http:
            for path in paths:
                response = http.get(path)
                assert response.status_code == 400, (role, path, response.text)
                if not path.startswith("/console"):  # the console answers an HTML page
                    assert response.headers["content-type"] == PROBLEM
                    assert response.json()["type"].endswith("invalid-path")
    with server.client("admin") as admin:
        assert admin.get("/api/v1/audit/verify").json()["valid"] is True


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00\x81", b"../../../etc/passwd", b"a b\x01"])
def test_a_damaged_current_pointer_is_503_and_health_says_so(fresh, backend, garbage) -> None:
    if backend.postgres:
        pytest.skip("PostgreSQL mode keeps the current snapshot in a catalog row, not a file")
    server = fresh()
    (server.home / "snapshots" / "CURRENT").write_bytes(garbage)
    with server.client("viewer") as viewer:
        health = viewer.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded" and body["snapshot"] == "broken"
        assert "CURRENT" in body["problem"]
        for path in (CP, "/api/v1/marts", "/api/v1/snapshots/current", "/api/v1/snapshots"):
            response = viewer.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["type"].endswith("snapshot-pointer-broken")
            assert "moatmetrics run" in response.json()["detail"]


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_removed_or_replaced_app_db_stops_serving_and_cannot_verify(fresh, backend, how) -> None:
    if backend.postgres:
        pytest.skip("the app database is a PostgreSQL database here, not a file")
    server = fresh()
    database = server.home / "app.db"
    with server.client("viewer") as viewer:
        assert viewer.get(CP).status_code == 200
    shutil.copy(database, server.home / "older.db")  # e.g. yesterday's backup
    with server.client("viewer") as viewer:
        for _ in range(3):
            assert viewer.get(CP).status_code == 200
    for suffix in ("-wal", "-shm", ""):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    if how == "replaced":  # the older copy put in place (another file under the same name)
        os.replace(server.home / "older.db", database)
    for role in ("viewer", None):
        with server.client(role) as http:
            response = http.get(CP)
            assert response.status_code == 503, response.text
            problem = response.json()
            assert problem["type"].endswith("audit-unavailable") and how in problem["detail"]
    with server.client(None) as http:
        assert http.get("/health").status_code == 200  # alive, says nothing about data
    result = _verify_cli(backend, server.home)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout


def test_a_forged_entry_with_a_correct_hash_is_reported(fresh, backend) -> None:
    server = fresh()
    with server.client("viewer") as viewer:
        for _ in range(3):
            assert viewer.get(CP).status_code == 200
    engine = engine_for(backend.settings(server.home))
    with engine.begin() as connection:  # someone with the database password only
        seq, prev = connection.execute(text("SELECT seq, entry_hash FROM audit_head")).one()
        fields = {
            "seq": seq + 1, "occurred_at": "2024-05-01T09:30:00.000000Z", "actor": "cli:ops",
            "role": None, "action": "keys.revoke", "target": "keys/1", "outcome": "ok",
            "status": None, "request_id": None, "client_addr": None, "details": "{}",
        }  # fmt: skip
        entry_hash = audit.compute_hash(fields, prev)
        connection.execute(
            text(
                "INSERT INTO audit_log (seq, occurred_at, actor, role, action, target, outcome,"
                " status, request_id, client_addr, details, prev_hash, entry_hash) VALUES"
                " (:seq, :occurred_at, :actor, :role, :action, :target, :outcome, :status,"
                " :request_id, :client_addr, :details, :prev, :hash)"
            ),
            {**fields, "prev": prev, "hash": entry_hash},
        )
        connection.execute(
            text("UPDATE audit_head SET seq = :seq, entry_hash = :hash"),
            {"seq": seq + 1, "hash": entry_hash},
        )
    with server.client("admin") as admin:
        report = admin.get("/api/v1/audit/verify").json()
    assert report["valid"] is False and report["first_broken_seq"] == seq + 1
    assert "not signed" in report["reason"]
    with engine.begin() as connection:  # a made-up signature does not help
        connection.execute(
            text("UPDATE audit_log SET entry_mac = :mac WHERE seq = :seq"),
            {"mac": "0" * 64, "seq": seq + 1},
        )
    result = _verify_cli(backend, server.home)
    assert result.returncode == 1 and f"entry {seq + 1}" in result.stdout
    assert "wrong signature" in result.stdout


def test_a_truncation_that_rewrites_the_head_is_reported(fresh, backend) -> None:
    server = fresh()
    with server.client("viewer") as viewer:
        for month in ("2024-01", "2024-02", "2024-03", "2024-01", "2024-02"):
            assert viewer.get(CP, params={"month_from": month}).status_code == 200
    engine = engine_for(backend.settings(server.home))
    with engine.begin() as connection:  # hide the last three reads, head included
        head = connection.scalar(text("SELECT seq FROM audit_head"))
        keep = head - 3
        kept_hash = connection.scalar(
            text("SELECT entry_hash FROM audit_log WHERE seq = :seq"), {"seq": keep}
        )
        connection.execute(text("DELETE FROM audit_log WHERE seq > :seq"), {"seq": keep})
        connection.execute(
            text("UPDATE audit_head SET seq = :seq, entry_hash = :hash"),
            {"seq": keep, "hash": kept_hash},
        )
    with server.client("admin") as admin:
        report = admin.get("/api/v1/audit/verify").json()
        assert report["valid"] is False and "signed checkpoint" in report["reason"]
        # The API keeps appending past the cut; the checkpoint does not follow the new chain.
        for _ in range(6):
            assert admin.get("/api/v1/me").status_code == 200
        report = admin.get("/api/v1/audit/verify").json()
        assert report["valid"] is False and report["first_broken_seq"] == head
        assert "signed checkpoint" in report["reason"]
    result = _verify_cli(backend, server.home)
    assert result.returncode == 1 and "signed checkpoint" in result.stdout


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    fresh, backend, tmp_path: Path, trusted: str
) -> None:
    server = fresh()  # its home and keys; served here by `moatmetrics serve`, as in production
    port = free_port()
    env = {
        **os.environ, **backend.env(server.home), "DO_NOT_TRACK": "1",
        "MOATMETRICS_RUN_ON_UPLOAD": "0", "MOATMETRICS_TRUSTED_PROXIES": trusted,
    }  # fmt: skip
    with open(tmp_path / "serve.log", "ab") as log:
        process = subprocess.Popen(
            [str(BIN), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_api(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            headers = {**server.headers("viewer"), "X-Forwarded-For": "203.0.113.9"}
            assert http.get("/api/v1/me", headers=headers).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
    (entry,) = _entries(server, action="auth.whoami")
    assert entry["client_addr"] == ("203.0.113.9" if trusted else "127.0.0.1")
