"""`moatmetrics sources list|suggest`, the ingest flags, and detection errors, via the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from moatmetrics.cli import main
from moatmetrics.sources.profiles import SHIPPED_DIR
from tests.integration.sources.vendor_files import (
    cw_entry,
    cw_json,
    m365_users_csv,
    xero_csv,
    xero_line,
)

UNKNOWN = (
    "Technician,Customer,Date Worked,Hours,Billable,Ticket #,Notes\n"
    "jtech,Acme Dental,07/06/2026,1.50,Yes,T-100,Reset password\n"
    "bsmith,Globex,07/13/2026,2.00,No,T-101,Server patch\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_sources_list_names_every_shipped_profile(home, capsys):
    assert main(["sources", "list"]) == 0
    out = capsys.readouterr().out
    for path in SHIPPED_DIR.glob("*.yaml"):
        assert path.stem in out
    assert len(list(SHIPPED_DIR.glob("*.yaml"))) == 12


def test_unknown_layout_names_the_closest_profiles_and_missing_headers(home, tmp_path, capsys):
    path = _write(tmp_path, "export.csv", UNKNOWN)
    assert main(["ingest", str(path)]) == 1
    out = capsys.readouterr().out
    assert "no source profile matches its headers; closest:" in out
    assert "halopsa_time_entries (missing headers: Action ID, Agent ID" in out
    assert "sources suggest" in out


def test_suggest_writes_a_draft_that_imports_the_file_once_the_gaps_are_filled(
    home, tmp_path, capsys
):
    path = _write(tmp_path, "tech_hours.csv", UNKNOWN)
    assert main(["sources", "suggest", str(path)]) == 0
    draft = home.home / "sources" / "drafts" / "tech_hours.yaml"
    text = draft.read_text()
    assert "staff_id: Technician  # exact: 'Technician' means staff_id" in text
    assert "%m/%d/%Y" in text and "client_source: null  # FILL IN" in text
    assert "Notes" in text.splitlines()[3]  # the unmapped header is named, never imported
    # As written, the draft does not load: the gap is flagged, not guessed.
    shutil.copy(draft, home.home / "sources" / "tech_hours.yaml")
    assert main(["sources", "list"]) == 1
    assert "column 'client_source'" in capsys.readouterr().err
    filled = text.replace("client_source: null", "client_source: {value: halopsa}")
    (home.home / "sources" / "tech_hours.yaml").write_text(filled)
    assert main(["ingest", str(path)]) == 0
    out = capsys.readouterr().out
    assert "profile tech_hours v1: 2 rows mapped, 0 skipped, 0 rejected" in out
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT staff_id, client_source, client_key, work_date::VARCHAR, hours::DOUBLE,"
            " billable, ticket_id FROM raw.time_entries ORDER BY staff_id"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        ("bsmith", "halopsa", "Globex", "2026-07-13", 2.0, False, "T-101"),
        ("jtech", "halopsa", "Acme Dental", "2026-07-06", 1.5, True, "T-100"),
    ]


def test_ambiguous_detection_names_the_candidates(home, tmp_path, capsys):
    user_dir = home.home / "sources"
    user_dir.mkdir(parents=True, exist_ok=True)
    copy = (
        (SHIPPED_DIR / "xero_invoices.yaml")
        .read_text()
        .replace("name: xero_invoices", "name: my_xero")
    )
    (user_dir / "my_xero.yaml").write_text(copy)
    line = xero_line(
        ContactName="Acme",
        InvoiceNumber="I-1",
        InvoiceDate="01/06/2026",
        DueDate="15/06/2026",
        Quantity="1",
        UnitAmount="10",
        LineAmount="10",
    )
    path = _write(tmp_path, "sales.csv", xero_csv([line]))
    assert main(["ingest", str(path)]) == 1
    out = capsys.readouterr().out
    assert "matches several source profiles (my_xero, xero_invoices); their signatures are" in out
    assert main(["ingest", "--source", "my_xero", str(path)]) == 0
    assert "profile my_xero v2" in capsys.readouterr().out


def test_a_bad_profile_is_a_clear_error(home, tmp_path, capsys):
    user_dir = home.home / "sources"
    user_dir.mkdir(parents=True, exist_ok=True)
    (user_dir / "broken.yaml").write_text(
        "name: broken\nversion: 1\nentity: invoices\nformat: csv\nsignature: [A]\n"
        'columns:\n  amount: {expr: "{A}; DROP TABLE raw.invoices"}\n'
    )
    assert main(["sources", "list"]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "cannot read ';" in err
    path = _write(
        tmp_path, "cw.json", cw_json([cw_entry(1, "ACME", "jtech", "2026-07-06T09:00:00Z", 1)])
    )
    assert main(["ingest", str(path)]) == 1
    assert "broken.yaml" in capsys.readouterr().out


def test_forced_source_and_its_errors(home, tmp_path, capsys):
    path = _write(
        tmp_path, "time.json", cw_json([cw_entry(1, "ACME", "jtech", "2026-07-06T09:00:00Z", 1)])
    )
    assert main(["ingest", "--source", "nope", str(path)]) == 1
    assert "there is no source profile 'nope'; known: autotask_contract_service_units" in (
        capsys.readouterr().out
    )
    assert main(["ingest", "--source", "autotask_time_entries", str(path)]) == 1
    assert "does not have the headers of autotask_time_entries: missing resourceID" in (
        capsys.readouterr().out
    )
    assert main(["ingest", "--source", "connectwise_time_entries", str(path)]) == 0


def test_ingest_as_of_and_client_flags(home, tmp_path, capsys):
    path = _write(tmp_path, "users.csv", m365_users_csv("A"))
    assert main(["ingest", "--as-of", "2026-04-30", "--client", "C-ACME", str(path)]) == 0
    assert "profile m365_users v1: 4 rows mapped, 1 skipped, 0 rejected" in capsys.readouterr().out
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        assert con.execute(
            "SELECT DISTINCT client_id, as_of_date::VARCHAR FROM raw.license_facts"
        ).fetchall() == [("C-ACME", "2026-04-30")]
        detail = con.execute("SELECT skipped_detail FROM ingest.upload_sources").fetchone()[0]
    finally:
        con.close()
    assert json.loads(detail) == {"users without a license": 1}


def test_profile_expressions_cannot_reach_beyond_the_file(tmp_path):
    from moatmetrics.sources.profiles import ProfileError, parse_profile

    base = "name: p\nversion: 1\nentity: invoices\nformat: csv\nsignature: [A]\ncolumns:\n"
    attempts = {
        'amount: {expr: "(SELECT sum(amount) FROM raw.invoices)"}': "'SELECT' is not allowed",
        'amount: {expr: "{A} /* hidden */"}': "comments are not allowed",
        "amount: {expr: \"read_csv('/etc/passwd')\"}": "'read_csv' is not allowed",
        'amount: {expr: "{_secret}"}': "unknown engine value {_secret}",
        "amount: {from: A, as: guess}": "'as' must be one of",
        "nonsense: A": "'nonsense' is not a column of the invoices contract",
    }
    for line, message in attempts.items():
        path = tmp_path / "p.yaml"
        path.write_text(base + "  " + line + "\n")
        try:
            parse_profile(path)
        except ProfileError as exc:
            assert message in str(exc), (line, str(exc))
            assert str(path) in str(exc)
        else:
            raise AssertionError(f"accepted: {line}")
