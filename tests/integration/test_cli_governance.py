"""`moatmetrics keys`, `moatmetrics audit` and the app-database record of CLI ingests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from moatmetrics.appdb.db import engine_for, session_scope
from moatmetrics.appdb.models import AuditEntry, Upload
from moatmetrics.cli import main
from moatmetrics.settings import Settings


def test_keys_and_audit_commands(
    home: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["keys", "list"]) == 0
    assert "no API keys yet" in capsys.readouterr().err

    assert main(["keys", "create", "--name", "ops", "--role", "admin"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert secret.startswith("mmk_") and "shown only this once" in err
    assert main(["keys", "create", "--name", "ops", "--role", "viewer"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ops" in listing and "admin" in listing and secret not in listing
    assert main(["keys", "revoke", "ops"]) == 0
    assert "revoked key 1 'ops'" in capsys.readouterr().out
    assert main(["keys", "list"]) == 0
    assert "ops" not in capsys.readouterr().out  # only active keys
    assert main(["keys", "list", "--all"]) == 0
    assert "revoked" in capsys.readouterr().out

    assert main(["audit", "verify"]) == 0
    assert "audit log valid: 2 entries" in capsys.readouterr().out
    export = tmp_path / "audit.csv"
    assert main(["audit", "export", "--format", "csv", "--out", str(export)]) == 0
    lines = export.read_text().splitlines()
    assert lines[0].startswith("seq,occurred_at,actor") and len(lines) == 3
    assert ",cli:" in lines[1]

    with engine_for(home).begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'someone' WHERE seq = 1"))
    assert main(["audit", "verify"]) == 1
    assert "BROKEN at entry 1" in capsys.readouterr().out


def test_keys_create_with_a_client_scope(
    home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--clients C1,C2` limits the key; a scoped admin or an empty scope is refused."""
    args = ["keys", "create", "--name", "acme-qbr", "--role"]
    assert main([*args, "admin", "--clients", "C1,C2"]) == 1
    assert "cannot be admin" in capsys.readouterr().err
    assert main([*args, "viewer", "--clients", " , "]) == 1
    assert "at least one client id" in capsys.readouterr().err
    assert main([*args, "viewer", "--clients", "C2, C1,C2"]) == 0
    assert "(viewer, clients C1,C2," in capsys.readouterr().err
    assert main(["keys", "list"]) == 0
    assert "acme-qbr  (clients C1,C2)" in capsys.readouterr().out
    with session_scope(home) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "keys.create")).one()
        assert json.loads(entry.details)["clients"] == ["C1", "C2"]


def test_cli_ingest_is_recorded(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    path = home.home / "staff.csv"
    path.write_text("staff_id,staff_name,hourly_cost\nS1,Ann,40\nS2,Bob,not-a-number\n")
    main(["ingest", str(path), "--by", "dana"])
    capsys.readouterr()
    with session_scope(home) as session:
        upload = session.scalars(select(Upload)).one()
        entry = session.scalars(select(AuditEntry)).one()
    assert upload.source == "cli" and upload.original_name == "staff.csv"
    assert upload.status in ("accepted", "rejected") and upload.rows_rejected >= 1
    assert entry.action == "pipeline.ingest" and entry.actor.startswith("cli:")
