"""No user principal name, e-mail address or person's name from a Microsoft 365 file is kept.

The files go in through the CLI (as a user would), a run publishes a snapshot, and then every
place under the home is searched: every text column of every table of the warehouse and of
each snapshot, the upload archive (files and metadata), reports and the app database.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from moatmetrics.cli import main
from orchestration.pipeline import run_pipeline
from tests.integration.sources.vendor_files import M365_USERS, m365_active_csv, m365_users_csv

HANDMADE = Path(__file__).parents[1] / "fixtures" / "handmade"

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def _text_values_with_at(path: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value containing '@' in a DuckDB file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
            " WHERE data_type = 'VARCHAR'"
        ).fetchall()
        found = []
        for schema, table, column in columns:
            rows = con.execute(
                f'SELECT "{column}" FROM "{schema}"."{table}" WHERE contains("{column}", \'@\')'
                " LIMIT 3"
            ).fetchall()
            found += [(f"{schema}.{table}", column, r[0]) for r in rows]
        return found
    finally:
        con.close()


def test_no_upn_email_or_display_name_is_stored_under_the_home(home, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "users_2026-06-30.csv").write_text(m365_users_csv("A"))
    (inbox / "users_b_2026-05-31.csv").write_text(m365_users_csv("B"))
    active = [
        {
            "User Principal Name": upn,
            "Display Name": name,
            "Exchange Last Activity Date": "2026-06-20",
            "Assigned Products": "" if licenses == "Unlicensed" else licenses.upper(),
        }
        for name, upn, licenses, _ in M365_USERS
    ]
    (inbox / "active_users.csv").write_text(m365_active_csv(active))
    assert main(["ingest", "--client", "C1", str(inbox)]) == 0, capsys.readouterr().out
    for path in HANDMADE.glob("*.csv"):
        shutil.copy(path, home.landing_dir / path.name)
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()

    secrets = [
        word
        for name, upn, _, _ in M365_USERS
        for word in (upn, upn.split("@")[0], name)
        if word.lower() != "admin"  # a role name elsewhere in the warehouse, not personal
    ]
    # 1. No stored text value anywhere holds an '@' (warehouse and every snapshot).
    databases = [home.warehouse_path, *sorted(home.snapshots_dir.rglob("*.duckdb"))]
    assert len(databases) >= 2, "no snapshot was published"
    for database in databases:
        assert _text_values_with_at(database) == [], database
    # 2. The facts are there, pseudonymised.
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        hashes = con.execute("SELECT count(DISTINCT user_hash) FROM raw.license_facts").fetchone()[
            0
        ]
        archived = [
            r[0] for r in con.execute("SELECT archived_path FROM ingest.uploads").fetchall()
        ]
    finally:
        con.close()
    assert hashes == 3  # the unlicensed admin holds no license: skipped and counted
    # 3. The upload archive holds the pseudonymised form only; no file under the home (but
    #    the landing area the user fills, and the salt) holds an address or a name.
    assert any(p.endswith(".pseudonymised.csv") for p in archived)
    for path in home.home.rglob("*"):
        if not path.is_file() or "landing" in path.parts or "secrets" in path.parts:
            continue
        data = path.read_bytes()
        for word in secrets:
            assert word.encode() not in data, (path, word)
        if path.parent == home.uploads_dir or path.parent == home.reports_dir:
            assert b"@" not in data, path
    # 4. The salt lives under the home, apart from the data, readable by the owner only.
    salt = home.home / "secrets" / "pseudonym.salt"
    assert salt.stat().st_mode & 0o077 == 0


def test_a_broken_microsoft_365_file_does_not_quote_its_rows(upload, warehouse):
    # A row with more columns than the header: the reader fails on it.
    text = m365_users_csv("A") + "Eve Evil,False,eve@contoso.com" + ",x" * 27 + ",extra\n"
    result = upload("users_2026-06-30.csv", text)
    assert result.status == "rejected"
    assert "details withheld" in result.message
    stored = warehouse.execute(
        "SELECT message FROM ingest.uploads UNION ALL SELECT rule FROM ingest.rejected_rows"
    ).fetchall()
    assert not any("@" in (row[0] or "") for row in stored)
