"""Each accepted file format yields the same typed raw rows (data contract: Files)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

CLIENTS_CSV = (
    "Client ID,Client Name,Industry,Status,contract-type,Contract Start,Monthly Contract Value\n"
    "C1,Café Müller GmbH,Healthcare,Active,break-fix,2025-01-01,1500.00\n"
    "C2,Acme Corp,Legal,,managed,,\n"
)
EXPECTED_CLIENTS = [
    (
        "C1",
        "Café Müller GmbH",
        "Healthcare",
        "active",
        "break_fix",
        date(2025, 1, 1),
        Decimal("1500.0000"),
    ),
    ("C2", "Acme Corp", "Legal", "active", "managed", None, None),
]


def _clients(warehouse):
    return warehouse.execute(
        "SELECT client_id, client_name, industry, status, contract_type, contract_start,"
        " monthly_contract_value FROM raw.clients ORDER BY client_id"
    ).fetchall()


def test_csv_utf8_with_header_normalisation(upload, warehouse):
    result = upload("clients.csv", CLIENTS_CSV)
    assert result.status == "accepted", result.message
    assert result.rows_loaded == 2
    assert _clients(warehouse) == EXPECTED_CLIENTS


def test_csv_with_bom(upload, warehouse):
    result = upload("clients.csv", b"\xef\xbb\xbf" + CLIENTS_CSV.encode("utf-8"))
    assert result.status == "accepted", result.message
    assert _clients(warehouse) == EXPECTED_CLIENTS


def test_csv_windows_1252_is_detected_and_reported(upload, warehouse):
    result = upload("clients.csv", CLIENTS_CSV.encode("cp1252"))
    assert result.status == "accepted", result.message
    assert any("Windows-1252" in note for note in result.notes)
    assert _clients(warehouse) == EXPECTED_CLIENTS


def test_csv_semicolon_delimiter_is_read_and_reported(upload, warehouse):
    result = upload("clients.csv", CLIENTS_CSV.replace(",", ";"))
    assert result.status == "accepted", result.message
    assert any("';'" in note for note in result.notes)
    assert _clients(warehouse) == EXPECTED_CLIENTS


def test_json_array(upload, warehouse):
    records = [
        {
            "client_id": "C1",
            "client_name": "Café Müller GmbH",
            "industry": "Healthcare",
            "status": "Active",
            "contract_type": "break-fix",
            "contract_start": "2025-01-01",
            "monthly_contract_value": 1500.00,
        },
        {
            "client_id": "C2",
            "client_name": "Acme Corp",
            "industry": "Legal",
            "contract_type": "managed",
        },
    ]
    result = upload("clients.json", json.dumps(records))
    assert result.status == "accepted", result.message
    assert _clients(warehouse) == EXPECTED_CLIENTS


def test_jsonl(upload, warehouse):
    lines = [
        '{"client_id": "C1", "client_name": "Café Müller GmbH", "industry": "Healthcare",'
        ' "status": "active", "contract_type": "break_fix", "contract_start": "2025-01-01",'
        ' "monthly_contract_value": "1500.00"}',
        '{"client_id": "C2", "client_name": "Acme Corp", "industry": "Legal",'
        ' "contract_type": "managed", "status": null}',
    ]
    result = upload("clients.jsonl", "\n".join(lines) + "\n")
    assert result.status == "accepted", result.message
    assert _clients(warehouse) == EXPECTED_CLIENTS


def _workbook(tmp_path, sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / "book.xlsx"
    book.save(path)
    return path.read_bytes()


XLSX_ROWS = [
    [
        "Client ID",
        "Client Name",
        "Industry",
        "Status",
        "Contract Type",
        "Contract Start",
        "Monthly Contract Value",
    ],
    ["C1", "Café Müller GmbH", "Healthcare", "Active", "break-fix", date(2025, 1, 1), 1500],
    ["C2", "Acme Corp", "Legal", None, "managed", None, None],
]


def test_xlsx_sheet_named_like_the_entity(tmp_path, upload, warehouse):
    content = _workbook(tmp_path, {"Summary": [["nothing"]], "Clients": XLSX_ROWS})
    result = upload("export.xlsx", content, entity="clients")
    assert result.status == "accepted", result.message
    assert _clients(warehouse) == EXPECTED_CLIENTS
    assert result.notes == []


def test_xlsx_first_sheet_when_none_named_like_the_entity(tmp_path, upload, warehouse):
    content = _workbook(tmp_path, {"Sheet1": XLSX_ROWS, "Notes": [["x"]]})
    result = upload("clients.xlsx", content)
    assert result.status == "accepted", result.message
    assert any("first sheet 'Sheet1'" in note for note in result.notes)
    assert _clients(warehouse) == EXPECTED_CLIENTS


def test_xlsx_problem_rows_are_the_sheet_rows(tmp_path, upload):
    rows = [XLSX_ROWS[0]] + [
        [f"C{i}", f"Client {i}", None, None, None, None, 10] for i in range(1, 150)
    ]
    rows.append(["C999", "Bad", None, None, None, "12/03/2025", None])
    result = upload("clients.xlsx", _workbook(tmp_path, {"clients": rows}))
    assert result.status == "accepted"
    assert result.rows_rejected == 1
    assert (result.problems[0]["row"], result.problems[0]["column"]) == (151, "contract_start")


@pytest.mark.parametrize("name", ["clients.txt", "clients.csv"])
def test_csv_like_extensions(name, upload):
    assert upload(name, CLIENTS_CSV).status == "accepted"


def test_unsupported_extension_is_rejected(upload):
    result = upload("clients.xls", b"\xd0\xcf\x11\xe0")
    assert result.status == "rejected"
    assert "unsupported file type '.xls'" in result.message
