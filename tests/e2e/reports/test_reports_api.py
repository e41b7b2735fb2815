"""The reports over real HTTP: their numbers are the API's numbers, their text is inert.

The PDF's text is extracted (pypdf) and every printed value of the selected rows is compared
with the JSON of `/api/v1/marts/...` for the same filters, formatted by the rules in
docs/reports.md (written out again here, so a formatting bug in the product cannot hide).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import openpyxl
import pytest
from report_support import (
    HOSTILE_EXPLANATION,
    HOSTILE_NAME,
    HOSTILE_PRODUCT,
    HOSTILE_VENDOR,
    Api,
    api_rows,
    money,
    pdf_lines,
    run_at,
)

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACTIONS = {"true_up": "True up", "bill_client": "Bill client", "reclaim": "Reclaim",
           "ok": "No action"}  # fmt: skip
MONTH_LINE = re.compile(r"[A-Z][a-z]{2} \d{4}")


# --- formatting as docs/reports.md states it -------------------------------------------


def percent(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    tenths = (Decimal(value) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{abs(tenths) if tenths == 0 else tenths}%"


def conf(value: Decimal | None) -> str:
    return "n/a" if value is None else str(Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP))


def month_label(text: str) -> str:
    return date.fromisoformat(text).strftime("%b %Y")


# --- reading -------------------------------------------------------------------------------


def report(http: httpx.Client, name: str, media: str, **params: Any) -> httpx.Response:
    response = http.get(f"/api/v1/reports/{name}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media
    return response


def workbook(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def number(value: Any) -> Decimal | None:
    """A numeric cell as the decimal it shows (openpyxl gives int or float)."""
    return None if value is None else Decimal(repr(value))


# --- client profitability ------------------------------------------------------------------


def profitability_cells(row: dict[str, Any]) -> list[str]:
    return [month_label(row["month"]), money(row["revenue"]), money(row["total_cost"]),
            money(row["gross_profit"]), percent(row["gross_margin"]),
            money(row["effective_hourly_rate"]), conf(row["confidence"]),
            "Review" if row["needs_review"] else "OK"]  # fmt: skip


def period_total_cells(rows: list[dict[str, Any]]) -> list[str]:
    revenue = sum(r["revenue"] for r in rows)
    profit = sum(r["gross_profit"] for r in rows)
    hours = sum(r["labor_hours"] for r in rows)
    pass_through = sum(r["license_cost"] + r["other_cost"] for r in rows)
    rate = ((revenue - pass_through) / hours).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return ["Period total", money(revenue), money(sum(r["total_cost"] for r in rows)),
            money(profit), percent(profit / revenue if revenue > 0 else None),
            money(rate if hours else None),
            "min " + conf(min(r["confidence"] for r in rows)),
            f"{sum(1 for r in rows if r['needs_review'])} of {len(rows)}"]  # fmt: skip


def first_client_with_flags(http: httpx.Client) -> str:
    flagged = api_rows(http, "client_profitability", sort="-needs_review,client_id")
    return flagged[0]["client_id"]


FILTERS = {
    "one client, every month": lambda http: {"client_id": first_client_with_flags(http)},
    "all clients, one quarter": lambda http: {"month_from": "2026-01", "month_to": "2026-03"},
}


@pytest.mark.parametrize("case", FILTERS)
def test_profitability_pdf_prints_the_apis_numbers(demo_api: Api, case: str) -> None:
    with demo_api.client() as http:
        params = FILTERS[case](http)
        rows = api_rows(http, "client_profitability", **params)
        response = report(http, "client-profitability", PDF, format="pdf", **params)
    lines = pdf_lines(response.content)
    assert len(rows) > 2 and sum(1 for x in lines if MONTH_LINE.fullmatch(x)) == len(rows)
    text = " ".join(lines)
    position = 0
    for client_id in dict.fromkeys(r["client_id"] for r in rows):
        client_rows = [r for r in rows if r["client_id"] == client_id]
        for row in client_rows:  # in month order, after the previous client
            position = run_at(lines, profitability_cells(row), position) + 1
            assert " ".join(row["explanation"].split()) in text
        position = run_at(lines, period_total_cells(client_rows), position) + 1
    assert any(f"Snapshot {demo_api.snapshot_id} - generated" in line for line in lines)
    assert any(line.startswith("Page 1 of ") for line in lines)


@pytest.mark.parametrize("case", FILTERS)
def test_profitability_xlsx_holds_the_apis_values(demo_api: Api, case: str) -> None:
    with demo_api.client() as http:
        params = FILTERS[case](http)
        rows = api_rows(http, "client_profitability", **params)
        response = report(http, "client-profitability", XLSX, format="xlsx", **params)
    book = workbook(response.content)
    assert book.sheetnames == ["Summary", "Client months", "About"]
    sheet = book["Client months"]
    header = [c.value for c in sheet[1]]
    cells = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2)]
    assert len(cells) == len(rows)
    for row, got in zip(rows, cells, strict=True):
        assert got["Client ID"].value == row["client_id"]
        assert got["Client"].value == row["client_name"]
        assert got["Month"].value == datetime.fromisoformat(row["month"])
        for column, key in (("Revenue", "revenue"), ("Total cost", "total_cost"),
                            ("Gross profit", "gross_profit"), ("Gross margin", "gross_margin"),
                            ("Effective hourly rate", "effective_hourly_rate"),
                            ("Confidence", "confidence")):  # fmt: skip
            assert got[column].data_type == "n" or got[column].value is None
            assert number(got[column].value) == row[key], (column, row)
        assert got["Needs review"].value == ("Review" if row["needs_review"] else "OK")
        assert got["Explanation"].value == row["explanation"]
    summary = {r[0]: r for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    for client_id in {r["client_id"] for r in rows}:
        client_rows = [r for r in rows if r["client_id"] == client_id]
        assert number(summary[client_id][3]) == sum(r["revenue"] for r in client_rows)
        assert number(summary[client_id][5]) == sum(r["gross_profit"] for r in client_rows)
    about = dict(book["About"].iter_rows(min_row=2, max_row=8, values_only=True))
    assert about["Snapshot"] == demo_api.snapshot_id


# --- license savings -----------------------------------------------------------------------


def savings(row: dict[str, Any]) -> Decimal:
    return row["monthly_waste"] + (row["monthly_leakage"] or 0)


def day_label(text: str | None) -> str:
    """A renewal date as docs/reports.md prints it: `31 Mar 2026`."""
    if text is None:
        return "n/a"
    value = date.fromisoformat(text)
    return f"{value.day} {value.strftime('%b %Y')}"


def license_cells(row: dict[str, Any]) -> list[str]:
    """The row's cells after client, vendor and product (which may wrap onto two lines)."""
    count = lambda n: "n/a" if n is None else f"{n:,}"  # noqa: E731
    return [day_label(row["term_end_date"]), count(row["unused_seats"]),
            money(row["monthly_waste"]),
            count(row["unbilled_seats"]), money(row["monthly_leakage"]), money(savings(row)),
            ACTIONS[row["recommendation"]], conf(row["confidence"])]  # fmt: skip


def latest_license_rows(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    latest = api_rows(http, "license_utilization", sort="-month", **params)[0]["month"]
    rows = api_rows(http, "license_utilization", month_from=latest, month_to=latest, **params)
    return sorted(rows, key=lambda r: (-savings(r), r["client_id"], r["vendor"] or "",
                                       r["product"]))  # fmt: skip


def test_license_savings_pdf_and_xlsx_hold_the_apis_numbers_largest_first(demo_api: Api) -> None:
    with demo_api.client() as http:
        rows = latest_license_rows(http)
        month = rows[0]["month"]
        named = api_rows(http, "client_profitability", month_from=month, month_to=month)
        pdf = report(http, "license-savings", PDF)  # format defaults to pdf
        book = workbook(report(http, "license-savings", XLSX, format="xlsx").content)
    assert len(rows) > 10 and savings(rows[0]) > savings(rows[-1])
    client_names = {r["client_id"]: r["client_name"] for r in named}
    assert all(client_names.get(r["client_id"]) for r in rows)  # every row is named
    renewals = [r["term_end_date"] for r in rows]
    assert any(renewals) and None in renewals  # the demo data has both
    lines = pdf_lines(pdf.content)
    position = 0
    for row in rows:  # largest savings first
        start = run_at(lines, license_cells(row), position)
        before = lines[position:start][-6:]  # client name, vendor, product (maybe wrapped)
        names = [client_names[row["client_id"]], row["vendor"] or "n/a", row["product"]]
        assert " ".join(before).endswith(" ".join(names)), (before, names)
        position = start + 1
    total = ["Total", f"{len(rows)} products", f"{sum(r['unused_seats'] for r in rows):,}",
             money(sum(r["monthly_waste"] for r in rows)),
             f"{sum(r['unbilled_seats'] or 0 for r in rows):,}",
             money(sum(r["monthly_leakage"] or 0 for r in rows)),
             money(sum(savings(r) for r in rows))]  # fmt: skip
    run_at(lines, total, position)

    sheet = book["Savings"]
    header = [c.value for c in sheet[1]]
    got = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(got) == len(rows) + 1 and got[-1]["Client ID"] == "Total"
    for row, line in zip(rows, got[:-1], strict=True):
        assert (line["Client ID"], line["Vendor"], line["Product"]) == (
            row["client_id"], row["vendor"], row["product"])  # fmt: skip
        assert line["Month"] == datetime.fromisoformat(row["month"])
        assert line["Client"] == client_names[row["client_id"]]
        renews = row["term_end_date"]
        assert line["Renews"] == (renews and datetime.fromisoformat(renews)), row
        for column, key in (("Unused seats", "unused_seats"), ("Monthly waste", "monthly_waste"),
                            ("Unbilled seats", "unbilled_seats"),
                            ("Monthly leakage", "monthly_leakage"), ("Confidence", "confidence"),
                            ("Recommendation", "recommendation"),
                            ("Explanation", "explanation")):  # fmt: skip
            expected = row[key]
            value = number(line[column]) if isinstance(expected, Decimal) else line[column]
            assert value == expected, (column, row)
        assert number(line["Monthly savings"]) == savings(row)
    assert number(got[-1]["Monthly savings"]) == sum(savings(r) for r in rows)


# --- headers, audit, refusals --------------------------------------------------------------


def test_file_names_headers_and_audit_entry(demo_api: Api) -> None:
    with demo_api.client() as http:
        client_id = first_client_with_flags(http)
        period = {"month_from": "2025-01", "month_to": "2025-06"}
        response = report(
            http, "client-profitability", XLSX, format="xlsx", client_id=client_id, **period
        )
        everyone = report(http, "license-savings", PDF, format="pdf")
    sid = demo_api.snapshot_id
    assert response.headers["content-disposition"] == (
        f'attachment; filename="client-profitability-{sid}-{client_id}-2025-01_2025-06.xlsx"'
    )
    assert everyone.headers["content-disposition"] == (
        f'attachment; filename="license-savings-{sid}-all-clients-all-months.pdf"'
    )
    assert response.headers["x-snapshot-id"] == sid and everyone.content.startswith(b"%PDF-")
    with demo_api.client("admin") as admin:
        entries = admin.get("/api/v1/audit", params={"target": "reports/"}).json()["entries"]
    mine = [e for e in entries if e["target"] == "reports/client-profitability"]
    assert mine and mine[0]["action"] == "reports.read" and mine[0]["outcome"] == "ok"
    assert mine[0]["details"]["snapshot_id"] == sid
    assert mine[0]["details"]["query"]["client_id"] == [client_id]


@pytest.mark.parametrize(
    ("params", "status", "kind"),
    [
        ({"format": "docx"}, 422, "invalid-parameter"),
        ({"clients": "C00001"}, 422, "invalid-parameter"),
        ({"month_from": "2024-13"}, 422, "invalid-parameter"),
        ({"month_from": "2025-06", "month_to": "2025-01"}, 422, "invalid-parameter"),
        ({"client_id": "NOPE"}, 404, "unknown-client"),
    ],
)
def test_bad_requests_get_a_problem_naming_the_fix(
    demo_api: Api, params: dict[str, str], status: int, kind: str
) -> None:
    with demo_api.client() as http:
        for name in ("client-profitability", "license-savings"):
            response = http.get(f"/api/v1/reports/{name}", params=params)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith(kind)
            assert response.json()["detail"]


def test_roles_and_a_period_without_rows(demo_api: Api) -> None:
    with demo_api.client(None) as anonymous:
        assert anonymous.get("/api/v1/reports/client-profitability").status_code == 401
    with demo_api.client("viewer") as http:
        client_id = first_client_with_flags(http)
        quiet = {"client_id": client_id, "month_from": "2020-01", "month_to": "2020-02"}
        lines = pdf_lines(report(http, "client-profitability", PDF, **quiet).content)
        assert "No client profitability rows in this period." in lines
        lines = pdf_lines(report(http, "license-savings", PDF, **quiet).content)
        assert "No license rows for these clients in this period." in lines


# --- formula injection ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["client-profitability", "license-savings"])
def test_text_that_looks_like_a_formula_stays_text(hostile_api: Api, name: str) -> None:
    with hostile_api.client() as http:
        xlsx = report(http, f"{name}", XLSX, format="xlsx").content
        lines = pdf_lines(report(http, f"{name}", PDF).content)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        for member in archive.namelist():
            assert b"<f>" not in archive.read(member) and b"<f " not in archive.read(member)
    book = workbook(xlsx)
    texts = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.add(cell.value)
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
    hostile = [HOSTILE_EXPLANATION]
    hostile += (
        [HOSTILE_NAME] if name == "client-profitability" else [HOSTILE_VENDOR, HOSTILE_PRODUCT]
    )
    for text in hostile:
        assert "'" + text in texts  # shown literally, with the apostrophe that disarms it
    assert any(HOSTILE_EXPLANATION in line for line in lines)  # the PDF prints it as it is
