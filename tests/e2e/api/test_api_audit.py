"""The audit log over HTTP: reads recorded with their filters, tampering found, exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from moatmetrics.appdb.db import engine_for

CP = "/api/v1/marts/client_profitability"


@pytest.fixture
def audited_server(tmp_path: Path, start_server, publish_generation):
    home = tmp_path / "home"
    snapshot = publish_generation(home, 1)
    return start_server(home), snapshot


def test_mart_read_is_audited_with_filters(audited_server) -> None:
    server, snapshot = audited_server
    with server.client("viewer") as viewer:
        response = viewer.get(
            CP, params={"client_id": ["C1", "C2"], "month_from": "2024-02"},
            headers={"X-Request-ID": "bi-refresh-42"},
        )  # fmt: skip
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "bi-refresh-42"
        denied = viewer.get("/api/v1/audit")
        assert denied.status_code == 403
    with server.client("admin") as admin:
        page = admin.get("/api/v1/audit", params={"action": "marts.read"}).json()
        (entry,) = page["entries"]
        assert entry["request_id"] == "bi-refresh-42"
        assert entry["actor"].startswith("test-viewer-") and entry["role"] == "viewer"
        assert entry["target"] == "marts/client_profitability"
        assert entry["outcome"] == "ok" and entry["status"] == 200
        assert entry["client_addr"] == "127.0.0.1"
        assert entry["details"]["query"] == {"client_id": ["C1", "C2"], "month_from": ["2024-02"]}
        assert entry["details"]["snapshot_id"] == snapshot.snapshot_id
        (refusal,) = admin.get("/api/v1/audit", params={"action": "audit.read"}).json()["entries"][
            -1:
        ]
        assert refusal["outcome"] == "denied" and refusal["status"] == 403
        anonymous = admin.get("/api/v1/audit", params={"actor": "anonymous"}).json()
        assert anonymous["total"] == 0
    with server.client(None) as nobody:
        assert nobody.get(CP).status_code == 401
    with server.client("admin") as admin:
        (entry,) = admin.get("/api/v1/audit", params={"actor": "anonymous"}).json()["entries"]
        assert entry["outcome"] == "denied" and entry["details"]["reason"] == "missing"


def test_verify_reports_an_edited_and_a_deleted_entry(audited_server, backend) -> None:
    server, _ = audited_server
    with server.client("viewer") as viewer:
        for month in ("2024-01", "2024-02", "2024-03"):
            assert viewer.get(CP, params={"month_from": month}).status_code == 200
    with server.client("admin") as admin:
        report = admin.get("/api/v1/audit/verify").json()
        assert report["valid"] and report["first_broken_seq"] is None
        reads = admin.get("/api/v1/audit", params={"action": "marts.read"}).json()["entries"]
        target_seq = sorted(e["seq"] for e in reads)[1]  # the 2024-02 read

        engine = engine_for(backend.settings(server.home))
        with engine.begin() as connection:  # someone hides that the February data was read
            connection.execute(
                text("UPDATE audit_log SET details = '{}' WHERE seq = :seq"), {"seq": target_seq}
            )
        report = admin.get("/api/v1/audit/verify").json()
        assert report["valid"] is False and report["first_broken_seq"] == target_seq
        assert "modified" in report["reason"]

        with engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_log WHERE seq = :seq"), {"seq": 2})
        report = admin.get("/api/v1/audit/verify").json()
        assert report["first_broken_seq"] == 2 and "missing" in report["reason"]


def test_exports_in_chain_order(audited_server) -> None:
    server, _ = audited_server
    with server.client("viewer") as viewer:
        viewer.get(CP, params={"client_id": 'C1",\n"x'})  # awkward characters survive
    with server.client("admin") as admin:
        lines = admin.get("/api/v1/audit/export", params={"format": "jsonl"})
        assert lines.headers["content-type"].startswith("application/x-ndjson")
        entries = [json.loads(line) for line in lines.text.splitlines()]
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        assert all(
            b["prev_hash"] == a["entry_hash"] for a, b in zip(entries, entries[1:], strict=False)
        )
        table = admin.get("/api/v1/audit/export", params={"format": "csv", "action": "marts."})
        assert table.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        (row,) = rows
        assert json.loads(row["details"])["query"]["client_id"] == ['C1",\n"x']
        since = admin.get("/api/v1/audit", params={"since": "2099-01-01T00:00:00Z"}).json()
        assert since["total"] == 0
        bad = admin.get("/api/v1/audit", params={"since": "yesterday"})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
