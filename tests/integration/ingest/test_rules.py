"""Strict typing, row rules, structural rejections and loading semantics of the contract."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

TE_HEADER = "entry_id,staff_id,client_id,work_date,hours,billable,work_type\n"


def _entries(n: int, start: int = 1) -> str:
    return "".join(f"E{i},S1,C1,2025-01-06,1.5,yes,remote\n" for i in range(start, start + n))


def _only_problem(result) -> tuple:
    errors = [p for p in result.problems if p["severity"] == "error"]
    assert len(errors) == 1, result.problems
    p = errors[0]
    return p["row"], p["column"], p["value"], p["rule"]


@pytest.mark.parametrize(
    ("line", "column", "value", "rule"),
    [
        ("E900,S1,C1,12/03/2025,1,yes,", "work_date", "12/03/2025", "not an ISO date (YYYY-MM-DD)"),
        ("E900,S1,C1,2025-02-30,1,yes,", "work_date", "2025-02-30", "not a real calendar date"),
        ("E900,S1,C1,2025-01-06,-1,yes,", "hours", "-1", "must be > 0 and <= 24"),
        ("E900,S1,C1,2025-01-06,0,yes,", "hours", "0", "must be > 0 and <= 24"),
        ("E900,S1,C1,2025-01-06,25,yes,", "hours", "25", "must be > 0 and <= 24"),
        ("E900,S1,C1,2025-01-06,1,maybe,", "billable", "maybe", "not a yes/no value"),
        (
            'E900,S1,C1,2025-01-06,"1,5",yes,',
            "hours",
            "1,5",
            "thousands separator or decimal comma",
        ),
        ("E900,S1,C1,2025-01-06,$2,yes,", "hours", "$2", "currency sign in a number"),
        ("E900,,C1,2025-01-06,1,yes,", "staff_id", None, "required value is missing"),
    ],
)
def test_time_entry_rules(upload, line, column, value, rule):
    result = upload("time_entries.csv", TE_HEADER + _entries(150) + line + "\n")
    assert result.status == "accepted", result.message
    assert result.rows_loaded == 150
    assert result.rows_rejected == 1
    assert _only_problem(result) == (152, column, value, rule)


def test_billable_words(upload, warehouse):
    rows = "".join(
        f"E{i},S1,C1,2025-01-06,1,{word},\n"
        for i, word in enumerate(["No", "N", "0", "false", "YES", "y", "1", "True", ""])
    )
    assert upload("time_entries.csv", TE_HEADER + rows).status == "accepted"
    got = warehouse.execute("SELECT billable FROM raw.time_entries ORDER BY entry_id").fetchall()
    assert [r[0] for r in got] == [False] * 4 + [True] * 5


def test_too_many_bad_rows_reject_the_file(upload, warehouse):
    bad = "".join(f"X{i},S1,C1,2025-13-01,1,yes,\n" for i in range(2))
    result = upload("time_entries.csv", TE_HEADER + _entries(98) + bad)
    assert result.status == "rejected"
    assert "2 of 100 rows" in result.message
    assert warehouse.execute("SELECT count(*) FROM raw.time_entries").fetchone()[0] == 0
    report = Path(result.report_path).read_text().splitlines()
    assert report[0] == "file_name,sheet,row_number,column_name,value,rule,fix,severity"
    assert [line.split(",")[2:5] for line in report[1:]] == [
        ["100", "work_date", "2025-13-01"],
        ["101", "work_date", "2025-13-01"],
    ]


def test_threshold_is_configurable(tmp_path, monkeypatch, warehouse):
    from moatmetrics.ingest.loader import Ingestor
    from moatmetrics.settings import get_settings

    monkeypatch.setenv("MOATMETRICS_MAX_REJECTED_SHARE", "0.05")
    path = tmp_path / "time_entries.csv"
    path.write_text(TE_HEADER + _entries(98) + "X1,S1,C1,2025-13-01,1,yes,\n" * 2)
    result = Ingestor(warehouse, get_settings()).ingest_file(path)
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("accepted", 98, 2)


def test_warnings_keep_the_row(upload, warehouse):
    result = upload("time_entries.csv", TE_HEADER + "E1,S1,C1,2025-01-06,13,yes,\n")
    assert result.status == "accepted" and result.rows_loaded == 1
    assert result.problems[0]["severity"] == "warning"
    assert "minutes exported as hours" in result.problems[0]["fix"]


def test_duplicate_keys_in_one_file(upload, warehouse):
    rows = _entries(200) + "E5,S1,C1,2025-01-06,1.5,yes,remote\n"  # exact repeat of E5
    result = upload("time_entries.csv", TE_HEADER + rows)
    assert result.status == "accepted"
    assert _only_problem(result) == (202, "entry_id", "E5", "exact duplicate of row 6")
    conflicting = _entries(200) + "E7,S2,C1,2025-01-06,3,yes,remote\n"
    result = upload("time_entries_b.csv", TE_HEADER + conflicting)
    assert {(p["row"], p["rule"]) for p in result.problems} == {
        (8, "rows share the key (entry_id) but differ"),
        (202, "rows share the key (entry_id) but differ"),
    }


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("clients.csv", "", "the file is empty"),
        ("clients.csv", "client_id,client_name,Client-ID\n", "appears twice in the header"),
        (
            "clients.csv",
            "client_id,industry\nC1,Legal\n",
            "missing required column for clients: 'client_name' (accepted names: 'client_name',"
            " 'name')",
        ),
        (
            "clients.csv",
            "client_id,client_name\nC1,A\nC2,B,extra\n",
            "row 3 has a different number of columns than the header (2)",
        ),
        ("stuff.csv", "client_id,client_name\nC1,A\n", "cannot tell what 'stuff.csv' holds"),
        ("clients.json", '{"client_id": "C1"}', "must hold an array of objects"),
        ("clients.json", "[1, 2]", "record 1 is not an object"),
        (
            "clients.csv",
            "entry_id,staff_id,work_date,hours\nE1,S1,2025-01-01,1\n",
            "look like a time_entries file",
        ),
    ],
)
def test_structural_errors_reject_the_whole_file(upload, warehouse, name, content, message):
    result = upload(name, content)
    assert result.status == "rejected"
    assert message in result.message
    assert warehouse.execute("SELECT count(*) FROM raw.clients").fetchone()[0] == 0
    recorded = warehouse.execute(
        "SELECT status FROM ingest.uploads WHERE upload_id = ?", [result.upload_id]
    ).fetchone()
    assert recorded == ("rejected",)


def test_header_only_is_accepted_with_a_note(upload):
    result = upload("clients.csv", "client_id,client_name\n")
    assert result.status == "accepted" and result.rows_loaded == 0
    assert any("no data rows" in n for n in result.notes)


def test_unknown_columns_are_not_ingested_and_reported(upload, warehouse):
    result = upload("clients.csv", "client_id,client_name,Email,Notes\nC1,A,a@b.c,secret\n")
    assert result.status == "accepted"
    assert "not imported: Email, Notes" in result.notes[0]
    columns = [r[0] for r in warehouse.execute("DESCRIBE raw.clients").fetchall()]
    assert "email" not in columns and "notes" not in columns


def test_other_currency_is_rejected(upload):
    header = "invoice_id,client_id,invoice_date,amount,currency\n"
    good = "".join(f"I{i},C1,2025-01-01,10,usd\n" for i in range(120))
    result = upload("invoices.csv", header + good + "I999,C1,2025-01-01,10,EUR\n")
    assert _only_problem(result) == (
        122,
        "currency",
        "EUR",
        "currency EUR is not the reporting currency USD",
    )


def test_seats_must_be_whole(upload):
    header = "client_id,product,seats_purchased,seats_active,unit_cost\n"
    good = "".join(f"C{i},M365,10,8,12.50\n" for i in range(120))
    result = upload("licenses.csv", header + good + "C999,M365,10.5,8,12.50\n")
    assert _only_problem(result) == (122, "seats_purchased", "10.5", "not a whole number")


def test_defaults_and_amount_from_quantity(upload, warehouse):
    header = "invoice_id,client_id,invoice_date,quantity,unit_price\n"
    assert (
        upload("invoices.csv", header + "I1,C1,2025-01-01,3,19.99\nI1,C1,2025-01-01,1,5\n").status
        == "accepted"
    )
    rows = warehouse.execute(
        "SELECT invoice_id, line_no, status, category, currency, amount FROM raw.invoices"
        " ORDER BY line_no"
    ).fetchall()
    assert rows == [
        ("I1", 1, "sent", "other", "USD", Decimal("59.9700")),
        ("I1", 2, "sent", "other", "USD", Decimal("5.0000")),
    ]
    upload(
        "licenses.csv",
        "client_id,product,seats_purchased,seats_active,unit_cost\nC1,M365,10,8,12.5\n",
    )
    assert warehouse.execute(
        "SELECT seats_assigned, snapshot_date = current_date FROM raw.licenses"
    ).fetchone() == (8, True)


def test_newer_upload_replaces_rows_with_the_same_key(upload, warehouse):
    upload("clients.csv", "client_id,client_name\nC1,Old name\nC2,Keep\n")
    upload("clients_update.csv", "client_id,client_name\nC1,New name\n")
    assert warehouse.execute(
        "SELECT client_id, client_name FROM raw.clients ORDER BY 1"
    ).fetchall() == [("C1", "New name"), ("C2", "Keep")]


def test_byte_identical_reupload_changes_nothing(upload, warehouse):
    first = upload("clients.csv", "client_id,client_name\nC1,A\n")
    again = upload("clients.csv", "client_id,client_name\nC1,A\n")
    assert (first.status, again.status) == ("accepted", "unchanged")
    assert warehouse.execute("SELECT count(*) FROM ingest.uploads").fetchone()[0] == 1


def test_upload_is_archived_by_sha256(upload, home):
    result = upload("clients.csv", "client_id,client_name\nC1,A\n")
    archived = list(home.uploads_dir.iterdir())
    assert len(archived) == 1 and archived[0].name.startswith(result.upload_id[1:])


def test_moatmetrics_1x_time_logs(upload, warehouse):
    logs = (
        "staff_name,client_name,date,hours,billable,rate\n"
        "Ann,Acme,2025-01-06,1.5,Yes,120\n"
        "Ann,Acme,2025-01-06,1.5,Yes,120\n"  # two identical entries are two entries
        "Bob,,2025-01-07,2,No,\n"
    )
    assert upload("time_logs.csv", logs).status == "accepted"
    assert upload("time_logs_copy.csv", logs + "\n").status == "accepted"  # same rows again
    rows = warehouse.execute(
        "SELECT staff_id, client_id, work_date::VARCHAR, hours, billable, bill_rate"
        " FROM raw.time_entries ORDER BY staff_id, entry_id"
    ).fetchall()
    assert rows == [
        ("Ann", "Acme", "2025-01-06", Decimal("1.5000"), True, Decimal("120.0000")),
        ("Ann", "Acme", "2025-01-06", Decimal("1.5000"), True, Decimal("120.0000")),
        ("Bob", None, "2025-01-07", Decimal("2.0000"), False, None),
    ]


def test_moatmetrics_1x_clients_use_name_as_id(upload, warehouse):
    assert upload("clients.csv", "name,industry,is_active\nAcme,Legal,true\n").status == (
        "accepted"
    )
    assert warehouse.execute("SELECT client_id, client_name FROM raw.clients").fetchall() == [
        ("Acme", "Acme")
    ]
