"""The all-clients reports print whatever text a snapshot holds (issue 20, finding 6).

A 5,000-character client name made reportlab raise LayoutError (a cell taller than the page)
and a name with an escape code made openpyxl raise IllegalCharacterError, so the reports of
every client answered 500. The ingest now rejects such names, but older snapshots and
warehouses filled by other means can still hold them: the reports must print any text, cut to
a readable length and with unprintable characters shown as spaces.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from pypdf import PdfReader

from moatmetrics.reports import formatting as fmt
from moatmetrics.reports import model, pdf, xlsx

CONTEXT = model.ReportContext("S1", datetime(2026, 1, 2, tzinfo=UTC), "USD", 0.7)
NAMES = {
    "5,000 characters with spaces": "Acme " * 1000,
    "5,000 characters without a space": "A" * 5000,
    "escape codes and NUL": "Evil\x00\x1b[31mCo\x7f\x85",
    "line breaks and tabs": "Two\nLines\r\nand\ta tab",
    "lone surrogate and non-characters": "Bad \ud800 \ufffe \uffff end",
}


def _profitability(client_id: str, name: str) -> model.ProfitabilityReport:
    rows = [
        {"client_id": "C0", "client_name": "Plain Co", "month": date(2024, 1, 1)},
        {"client_id": client_id, "client_name": name, "month": date(2024, 1, 1)},
    ]
    for row in rows:
        row.update(
            revenue=Decimal("1000.00"), total_cost=Decimal("400.00"),
            gross_profit=Decimal("600.00"), gross_margin=0.6,
            effective_hourly_rate=Decimal("90.00"), confidence=0.4, needs_review=True,
            explanation=name, labor_hours=Decimal("10"), license_cost=Decimal("100"),
            other_cost=Decimal("0"),
        )  # fmt: skip
    return model.profitability_report(CONTEXT, rows)


def _licenses(client_id: str, name: str) -> model.LicenseSavingsReport:
    row = {
        "client_id": client_id, "vendor": name, "product": name, "month": date(2024, 1, 1),
        "seats_purchased": 10, "seats_active": 4, "unused_seats": 6,
        "monthly_waste": Decimal("60.00"), "unbilled_seats": 2,
        "monthly_leakage": Decimal("30.00"), "recommendation": "bill_client",
        "confidence": 0.9, "needs_review": False, "explanation": name,
    }  # fmt: skip
    return model.license_savings_report(CONTEXT, date(2024, 1, 1), [row], {client_id: name})


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _xlsx_texts(content: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [
        cell.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
@pytest.mark.parametrize("client_id", ["C1", "C" * 3000])
def test_reports_render_any_stored_text(name: str, client_id: str) -> None:
    shown = fmt.printable(name, fmt.TEXT_LIMIT)
    assert len(shown) <= fmt.TEXT_LIMIT
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in shown)

    profitability = _profitability(client_id, name)
    licenses = _licenses(client_id, name)
    for content in (pdf.profitability_pdf(profitability), pdf.license_savings_pdf(licenses)):
        text = _pdf_text(content)
        assert "Plain Co" in text or "bill client" in text.lower()
        assert shown.split()[0][:40] in text.replace("\n", " ")
    for content in (xlsx.profitability_xlsx(profitability), xlsx.license_savings_xlsx(licenses)):
        texts = _xlsx_texts(content)
        assert any(shown in text for text in texts), shown
        assert not any(c in text for text in texts for c in "\x00\x1b\x7f")
