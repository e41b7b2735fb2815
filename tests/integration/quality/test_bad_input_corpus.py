"""A corpus of real-world export defects: each gets its documented error or warning.

Row-level cases hide one bad row among 250 good ones (under the 1% threshold), so the test
also proves that nothing valid is lost: every good row is loaded. Whole-file cases prove that
nothing of the file enters the warehouse.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import openpyxl
import pytest
from bad_files import edit_sheets

GOOD_ROWS = 250

HEADERS = {
    "clients": "client_id,client_name,industry,status,contract_type,contract_start,"
    "contract_end,monthly_contract_value,managed_users,managed_endpoints",
    "staff": "staff_id,staff_name,role,hourly_cost,weekly_hours,billable_target,start_date,"
    "end_date",
    "time_entries": "entry_id,staff_id,client_id,work_date,hours,billable,work_type,ticket_id,"
    "bill_rate",
    "invoices": "invoice_id,line_no,client_id,invoice_date,due_date,status,category,sku,"
    "quantity,unit_price,amount,currency",
    "licenses": "client_id,vendor,product,sku,snapshot_date,seats_purchased,seats_assigned,"
    "seats_active,seats_billed,unit_cost,unit_price,term_end_date",
    "expenses": "expense_id,client_id,expense_date,amount,category",
}


def good_row(entity: str, i: int) -> str:
    return {
        "clients": f"C{i},Client {i},legal,active,managed,2025-01-01,,1000.00,10,12",
        "staff": f"S{i},Staff {i},technician,50.00,40,0.75,2024-01-01,",
        "time_entries": f"E{i},S1,C1,2025-01-06,1.5,yes,remote_support,T{i},100",
        "invoices": f"I{i},1,C1,2025-01-31,2025-03-02,paid,recurring,MSP,2,50.00,100.00,USD",
        "licenses": f"C{i},Microsoft,M365 Business Premium,CFQ7,2025-01-01,10,9,8,9,22.00,"
        "26.00,2025-12-31",
        "expenses": f"X{i},C1,2025-01-10,50.00,travel",
    }[entity]


def csv_with(entity: str, bad_row: str | None = None, rows: int = GOOD_ROWS) -> str:
    lines = [HEADERS[entity]] + [good_row(entity, i) for i in range(1, rows + 1)]
    if bad_row is not None:
        lines.append(bad_row)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RowCase:
    """One bad row (the last, row GOOD_ROWS + 2) and the problem it must produce."""

    name: str
    entity: str
    bad_row: str
    column: str
    rule: str
    severity: str = "error"


ROW_CASES = [
    RowCase(
        "thousands separator",
        "invoices",
        'I999,1,C1,2025-01-31,,paid,recurring,,,,"1,234.50",USD',
        "amount",
        "thousands separator or decimal comma",
    ),
    RowCase(
        "currency sign",
        "expenses",
        "X999,C1,2025-01-10,$100,travel",
        "amount",
        "currency sign in a number",
    ),
    RowCase(
        "US date layout",
        "time_entries",
        "E999,S1,C1,12/03/2025,1,yes,,,",
        "work_date",
        "not an ISO date (YYYY-MM-DD)",
    ),
    RowCase(
        "impossible date",
        "expenses",
        "X999,C1,2025-02-30,10.00,",
        "expense_date",
        "not a real calendar date",
    ),
    RowCase(
        "negative hours",
        "time_entries",
        "E999,S1,C1,2025-01-06,-2,yes,,,",
        "hours",
        "must be > 0 and <= 24",
    ),
    RowCase(
        "zero hours",
        "time_entries",
        "E999,S1,C1,2025-01-06,0,yes,,,",
        "hours",
        "must be > 0 and <= 24",
    ),
    RowCase(
        "25 hours",
        "time_entries",
        "E999,S1,C1,2025-01-06,25,yes,,,",
        "hours",
        "must be > 0 and <= 24",
    ),
    RowCase(
        "billable maybe",
        "time_entries",
        "E999,S1,C1,2025-01-06,1,maybe,,,",
        "billable",
        "not a yes/no value",
    ),
    RowCase(
        "conflicting duplicate key",
        "staff",
        "S7,Someone Else,technician,60.00,40,0.75,,",
        "staff_id",
        "rows share the key (staff_id) but differ",
    ),
    RowCase(
        "exact duplicate row",
        "clients",
        good_row("clients", 3),
        "client_id",
        "exact duplicate of row 4",
    ),
    RowCase(
        "unknown client",
        "time_entries",
        "E999,S1,C404,2025-01-06,1,yes,,,",
        "client_id",
        "client C404 is not in the clients file",
        "warning",
    ),
    RowCase(
        "unknown staff",
        "time_entries",
        "E999,S404,C1,2025-01-06,1,yes,,,",
        "staff_id",
        "staff member S404 is not in the staff file",
        "warning",
    ),
    RowCase(
        "future date",
        "time_entries",
        "E999,S1,C1,2099-01-05,1,yes,,,",
        "work_date",
        "work date is after the upload date",
        "warning",
    ),
    RowCase(
        "minutes as hours",
        "time_entries",
        "E999,S1,C1,2025-01-06,15,yes,,,",
        "hours",
        "more than 12 hours on one entry",
        "warning",
    ),
    RowCase(
        "non-USD currency",
        "invoices",
        "I999,1,C1,2025-01-31,,paid,labor,,,,120.00,EUR",
        "currency",
        "currency EUR is not the reporting currency USD",
    ),
    RowCase(
        "fractional seats",
        "licenses",
        "C999,Microsoft,M365 Business Premium,,2025-01-01,10.5,9,8,9,22.00,,",
        "seats_purchased",
        "not a whole number",
    ),
    RowCase(
        "amount not quantity x price",
        "invoices",
        "I999,1,C1,2025-01-31,,paid,labor,,3,100.00,250.00,USD",
        "amount",
        "amount differs from quantity x unit_price",
        "warning",
    ),
    RowCase(
        "more active than assigned seats",
        "licenses",
        "C999,Microsoft,M365 Business Premium,,2025-01-01,10,5,8,5,22.00,,",
        "seats_assigned",
        "more active seats than assigned seats",
        "warning",
    ),
    RowCase(
        "contract ends before it starts",
        "clients",
        "C999,Late Co,legal,active,managed,2025-05-01,2025-01-01,,,",
        "contract_end",
        "contract_end is before contract_start",
    ),
    RowCase(
        "unknown status",
        "invoices",
        "I999,1,C1,2025-01-31,,unpaid,labor,,,,120.00,USD",
        "status",
        "not one of: draft, sent, pending, paid, overdue, void",
    ),
    RowCase(
        "weekly hours over 80",
        "staff",
        "S999,Ann,technician,50.00,90,0.75,,",
        "weekly_hours",
        "must be > 0 and <= 80",
    ),
    RowCase(
        "billable target over 1",
        "staff",
        "S999,Ann,technician,50.00,40,75,,",
        "billable_target",
        "must be >= 0 and <= 1",
    ),
    RowCase(
        "missing required value",
        "licenses",
        "C999,Microsoft,,,2025-01-01,10,9,8,9,22.00,,",
        "product",
        "required value is missing",
    ),
    RowCase(
        "escape code in a client name",
        "clients",
        "C999,Evil\x1b[31mCo,legal,active,managed,2025-01-01,,1000.00,10,12",
        "client_name",
        "contains a control character (U+001B)",
    ),
    RowCase(
        "line break in a quoted product",
        "licenses",
        'C999,Microsoft,"M365\nBusiness",,2025-01-01,10,9,8,9,22.00,,',
        "product",
        "contains a control character (U+000A)",
    ),
    RowCase(
        "5,000-character client name",
        "clients",
        "C999," + "N" * 5000 + ",legal,active,managed,2025-01-01,,1000.00,10,12",
        "client_name",
        "longer than 200 characters (5000)",
    ),
    RowCase(
        "due before invoice date",
        "invoices",
        "I999,1,C1,2025-01-31,2025-01-01,paid,labor,,,,120.00,USD",
        "due_date",
        "due_date is before invoice_date",
    ),
]


@pytest.fixture
def known_references(upload):
    """Clients C1.. and staff S1.. exist, so reference checks have something to check."""
    assert upload("clients.csv", csv_with("clients")).status == "accepted"
    assert upload("staff.csv", csv_with("staff")).status == "accepted"


@pytest.mark.parametrize("case", ROW_CASES, ids=[c.name for c in ROW_CASES])
def test_row_defect(case: RowCase, upload, warehouse, known_references):
    before = warehouse.execute(f"SELECT count(*) FROM raw.{case.entity}").fetchone()[0]
    result = upload(f"{case.entity}_batch.csv", csv_with(case.entity, case.bad_row))
    assert result.status == "accepted", result.message
    bad_line = GOOD_ROWS + 2
    flagged = {
        (p["row"], p["column"], p["severity"]) for p in result.problems if case.rule in p["rule"]
    }
    assert (bad_line, case.column, case.severity) in flagged, result.problems
    rejected = case.severity == "error"
    conflicting = "but differ" in case.rule  # both rows of a conflicting key are rejected
    assert result.rows_rejected == (2 if conflicting else 1 if rejected else 0)
    assert result.rows_loaded == GOOD_ROWS + 1 - result.rows_rejected
    after = warehouse.execute(f"SELECT count(*) FROM raw.{case.entity}").fetchone()[0]
    if case.entity in ("clients", "staff"):  # same keys as the fixture's upload: replaced
        assert after == max(before, GOOD_ROWS) + (0 if rejected else 1)
    else:
        assert after == before + result.rows_loaded  # nothing valid is lost
    assert result.quality_score < 1.0
    assert result.recommendations


def _xlsx(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<row/>" * 5_000_000)
    return buffer.getvalue()


def _patched_sheet(change) -> bytes:
    """A real clients workbook whose sheet XML is then edited by `change` (bytes -> bytes)."""
    rows = [HEADERS["clients"].split(",")] + [good_row("clients", i).split(",") for i in (1, 2)]
    return edit_sheets(_xlsx({"clients": rows}), change)


FILE_CASES = [
    (
        "UTF-16 export",
        "clients.csv",
        csv_with("clients").encode("utf-16"),
        "the file is UTF-16 text",
    ),
    ("empty file", "clients.csv", b"", "the file is empty"),
    (
        "ragged row",
        "clients.csv",
        (csv_with("clients", rows=3) + "C9,Extra,legal,,,,,,,,x\n"),
        "row 5 has a different number of columns than the header",
    ),
    (
        "duplicated header",
        "staff.csv",
        "staff_id,hourly_cost,Hourly Cost\nS1,1,2\n",
        "appears twice in the header",
    ),
    (
        "missing required column",
        "time_entries.csv",
        "entry_id,staff_id,work_date\nE1,S1,2025-01-06\n",
        "missing required column for time_entries: 'hours'",
    ),
    ("unknown entity", "payroll.csv", "a,b\n1,2\n", "cannot tell what 'payroll.csv' holds"),
    (
        "JSON not an array",
        "expenses.json",
        json.dumps({"expense_id": "X1"}),
        "must hold an array of objects",
    ),
    (
        "broken JSON Lines",
        "expenses.jsonl",
        '{"expense_id": "X1"}\n{"expense_id": \n',
        "the JSON could not be read",
    ),
    (
        "old Excel format",
        "clients.xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "unsupported file type '.xls'",
    ),
    ("XLSX zip bomb", "clients.xlsx", _xlsx_bomb(), "possible zip bomb"),
    (
        "XLSX unescaped ampersand",
        "clients.xlsx",
        _patched_sheet(lambda xml: xml.replace(b"Client 1", b"Smith & Sons")),
        "sheet 'clients' could not be read",
    ),
    (
        "XLSX document type declaration",
        "clients.xlsx",
        _patched_sheet(
            lambda xml: xml.replace(
                b"<worksheet", b'<!DOCTYPE x [<!ENTITY e "Client">]><worksheet', 1
            ).replace(b"Client 1", b"&e; 1")
        ),
        "declares a document type (<!DOCTYPE>)",
    ),
    (
        "CSV header wider than a column name",
        "clients.csv",
        "client_id,client_name," + "x" * (129 * 1024) + "\nC1,Acme,1\n",
        "the first row must name the columns",
    ),
    (
        "CSV with 5,000 columns",
        "clients.csv",
        "client_id,client_name," + ",".join(f"c{i}" for i in range(5000)) + "\nC1,Acme\n",
        "columns (limit 1,000)",
    ),
    (
        "too many bad rows",
        "expenses.csv",
        csv_with("expenses", rows=20) + 'X90,C1,2025-01-10,"1.000,00",\n',
        "rows break the data contract (more than 1%)",
    ),
]


@pytest.mark.parametrize(
    ("name", "file_name", "content", "message"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_file_defect_rejects_the_whole_file(name, file_name, content, message, upload, warehouse):
    result = upload(file_name, content)
    assert result.status == "rejected"
    assert message in result.message
    assert result.quality_score == 0.0 or result.rows_rejected > 0
    for entity in HEADERS:
        assert warehouse.execute(f"SELECT count(*) FROM raw.{entity}").fetchone()[0] == 0


def test_oversized_file_is_rejected(tmp_path, monkeypatch, warehouse):
    from moatmetrics.ingest.loader import Ingestor
    from moatmetrics.settings import get_settings

    monkeypatch.setenv("MOATMETRICS_MAX_UPLOAD_BYTES", "1000")
    path = tmp_path / "time_entries.csv"
    path.write_text(csv_with("time_entries"))
    result = Ingestor(warehouse, get_settings()).ingest_file(path)
    assert result.status == "rejected"
    assert "over the 1,000-byte limit" in result.message


def test_xlsx_with_several_sheets_reads_the_entity_sheet(upload, warehouse):
    rows = [HEADERS["expenses"].split(",")] + [
        good_row("expenses", i).split(",") for i in range(1, 4)
    ]
    content = _xlsx({"Summary": [["Total", 150]], "Expenses": rows})
    result = upload("export.xlsx", content, entity="expenses")
    assert result.status == "accepted" and result.rows_loaded == 3
    assert warehouse.execute("SELECT count(*) FROM raw.expenses").fetchone()[0] == 3


def test_semicolon_and_bom_are_read_with_a_note(upload):
    content = "\ufeff" + csv_with("expenses", rows=5).replace(",", ";")
    result = upload("expenses.csv", content)
    assert result.status == "accepted" and result.rows_loaded == 5
    assert any("';'" in note for note in result.notes)


def test_corpus_covers_at_least_25_distinct_defects():
    assert len(ROW_CASES) + len(FILE_CASES) + 3 >= 25
