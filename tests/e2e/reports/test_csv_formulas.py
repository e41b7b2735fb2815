"""Every CSV MoatMetrics writes keeps formula-like text literal, with the XLSX reports' rule.

Issue 20: the mart CSV export, the audit export (API and CLI, where an anonymous request path
or a key name plants the text) and the rejected-rows report wrote `=HYPERLINK(...)`,
`=cmd|...` and `@SUM(...)` as they came, so opening the file in a spreadsheet ran them. All
writers now use `moatmetrics.formulas.neutralise`; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from report_support import (
    HOSTILE_EXPLANATION,
    HOSTILE_NAME,
    HOSTILE_PRODUCT,
    HOSTILE_VENDOR,
    Api,
)
from serving import served_api

from moatmetrics.formulas import FORMULA_TRIGGERS, neutralise, neutralise_sql
from moatmetrics.settings import Settings

PLANTED_PATH = "=cmd|' /C calc'!A0"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_no_live_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_TRIGGERS), (row, cell)


def test_the_sql_rule_is_the_python_rule():
    texts = [t + "x" for t in FORMULA_TRIGGERS] + ["", "'=x", "Acme", " =x", "x=1", "-"]
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {neutralise_sql('t')} FROM (SELECT unnest(?::VARCHAR[]) AS t, "
        "generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i",
        [texts, texts],
    ).fetchall()
    assert [r[0] for r in got] == [neutralise(t) for t in texts]
    assert con.execute(f"SELECT {neutralise_sql('NULL')}").fetchone()[0] is None


def test_mart_csv_export_keeps_formulas_literal_and_numbers_numeric(hostile_api: Api):
    with hostile_api.client() as http:
        profitability = http.get(
            "/api/v1/marts/client_profitability", params={"format": "csv"}
        ).raise_for_status()
        licenses = http.get(
            "/api/v1/marts/license_utilization", params={"format": "csv"}
        ).raise_for_status()
    header, row = _rows(profitability.text)
    values = dict(zip(header, row, strict=True))
    assert values["client_name"] == "'" + HOSTILE_NAME
    assert values["explanation"] == "'" + HOSTILE_EXPLANATION
    assert values["revenue"] == "1000.00" and values["gross_margin"] == "0.6"
    header, row = _rows(licenses.text)
    values = dict(zip(header, row, strict=True))
    assert values["vendor"] == "'" + HOSTILE_VENDOR
    assert values["product"] == "'" + HOSTILE_PRODUCT
    assert values["unused_seats"] == "6" and values["monthly_waste"] == "60.00"
    _assert_no_live_formula(_rows(profitability.text) + _rows(licenses.text))


@pytest.fixture
def audit_api(home: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An API server for `home`, an admin key, and an entry whose actor and target are formulas.

    The entry stands for whatever text reaches the log from outside (request paths, file
    names), however the gate records it.
    """
    from moatmetrics.appdb.audit import Actor, append
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.keys import create_key

    with session_scope(home, write=True) as session:
        key = create_key(session, Actor("tests"), "auditor", "admin")[1]
        append(session, Actor(HOSTILE_NAME), "uploads.create", "ok", target=PLANTED_PATH)
    with served_api(home.home, tmp_path / "server.log", MOATMETRICS_RUN_ON_UPLOAD="0") as url:
        yield url, key


def test_audit_export_csv_keeps_planted_formulas_literal(
    audit_api: tuple[str, str], home: Settings, tmp_path: Path
):
    url, key = audit_api
    assert httpx.get(f"{url}/api/v1/{PLANTED_PATH}").status_code == 401  # anonymous plant
    auth = {"Authorization": f"Bearer {key}"}
    exported = httpx.get(f"{url}/api/v1/audit/export", params={"format": "csv"}, headers=auth)
    assert exported.status_code == 200
    rows = _rows(exported.text)
    assert any("'" + HOSTILE_NAME in row and "'" + PLANTED_PATH in row for row in rows), rows
    _assert_no_live_formula(rows)

    from moatmetrics.cli import main

    out = tmp_path / "audit.csv"
    assert main(["audit", "export", "--format", "csv", "--out", str(out)]) == 0
    rows = _rows(out.read_text())
    assert any("'" + HOSTILE_NAME in row and "'" + PLANTED_PATH in row for row in rows), rows
    _assert_no_live_formula(rows)


def test_rejected_rows_report_keeps_uploaded_formulas_literal(upload):
    header = "expense_id,client_id,expense_date,amount,category\n"
    good = "".join(f"X{i},C1,2025-01-10,50.00,travel\n" for i in range(200))
    bad = f"X999,C1,2025-01-10,{HOSTILE_PRODUCT.replace(',', ';')},travel\n"
    result = upload("expenses.csv", header + good + bad)
    assert result.status == "accepted" and result.rows_rejected == 1
    rows = _rows(Path(result.report_path).read_text())
    assert rows[0] == [
        "file_name", "sheet", "row_number", "column_name", "value", "rule", "fix", "severity",
    ]  # fmt: skip
    (problem,) = rows[1:]
    assert problem[2:5] == ["202", "amount", "'" + HOSTILE_PRODUCT.replace(",", ";")]
    _assert_no_live_formula(rows)
