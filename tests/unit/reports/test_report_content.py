"""The report builders without a server: printing rules, totals, sorting, inert text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from api.problems import ProblemError
from api.routers.reports import ReportParams, _rows
from api.schemas import ClientProfitabilityPage
from moatmetrics.reports import formatting as fmt
from moatmetrics.reports import model
from moatmetrics.reports.xlsx import neutralise

CONTEXT = model.ReportContext("S1", datetime(2026, 1, 2, tzinfo=UTC), "EUR", 0.7, ("C1", "C2"))


def test_values_print_half_up_on_their_decimal_digits() -> None:
    assert fmt.percent(0.0665) == "6.7%"  # 6.65 as a float product would round down
    assert fmt.percent(-0.8051) == "-80.5%" and fmt.percent(-0.0004) == "0.0%"
    assert fmt.confidence(0.805) == "0.81" and fmt.confidence(None) == "n/a"
    assert fmt.money(Decimal("1234567.5")) == "1,234,567.50"
    assert fmt.money(Decimal("-0.004")) == "0.00" and fmt.money(Decimal("-12.345")) == "-12.35"
    assert fmt.money(Decimal("9" * 36 + ".99")).startswith("999,999")  # DECIMAL(38, 2) fits
    assert fmt.month(date(2024, 10, 1)) == "Oct 2024"
    assert fmt.asked_period(date(2024, 10, 1), None) == "from Oct 2024"
    assert fmt.asked_period(None, None) == "all months"


def test_file_names_carry_only_safe_characters() -> None:
    name = fmt.filename("license-savings", "S1", ['../C 1"'], date(2024, 1, 1), None, "pdf")
    assert name == "license-savings-S1-C_1-2024-01_end.pdf"
    assert (
        fmt.filename("x", "S1", ["a", "b"], None, None, "xlsx") == "x-S1-2-clients-all-months.xlsx"
    )


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_triggers_get_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text


def test_plain_text_is_unchanged() -> None:
    assert neutralise("Acme Café (1+1)") == "Acme Café (1+1)"


def _row(client_id: str, month: int, revenue: str, profit: str, hours: str, **kw: object) -> dict:
    return {"client_id": client_id, "client_name": None, "month": date(2024, month, 1),
            "revenue": Decimal(revenue), "total_cost": Decimal(revenue) - Decimal(profit),
            "gross_profit": Decimal(profit), "gross_margin": None,
            "effective_hourly_rate": None, "labor_hours": Decimal(hours),
            "license_cost": Decimal("10.00"), "other_cost": Decimal("0.00"), **kw}  # fmt: skip


def test_totals_recompute_ratios_from_sums_and_keep_asked_clients() -> None:
    rows = [_row("C1", 1, "100.00", "50.00", "2", confidence=0.9, needs_review=False),
            _row("C1", 2, "300.00", "30.00", "0", confidence=0.4, needs_review=True)]  # fmt: skip
    report = model.profitability_report(CONTEXT, rows, {"C2": "Globex"})
    c1, c2 = report.clients
    assert c1.totals.gross_margin == Decimal("0.2")  # 80 / 400, not the mean of 0.5 and 0.1
    assert c1.totals.effective_hourly_rate == Decimal("190.00")  # (400 - 20) / 2 h
    assert (c1.totals.lowest_confidence, c1.totals.months_to_review) == (0.4, 1)
    assert c2.title == "Globex (C2)" and c2.months == () and c2.totals.gross_margin is None
    assert (report.first_month, report.last_month) == (date(2024, 1, 1), date(2024, 2, 1))


def test_license_lines_sort_by_savings_then_name() -> None:
    def line(client: str, product: str, waste: str, leakage: str | None) -> dict:
        return {"client_id": client, "vendor": None, "product": product,
                "month": date(2024, 1, 1), "seats_purchased": 5, "seats_active": 1,
                "unused_seats": 4, "monthly_waste": Decimal(waste), "unbilled_seats": None,
                "monthly_leakage": None if leakage is None else Decimal(leakage),
                "recommendation": "reclaim"}  # fmt: skip

    rows = [line("C2", "B", "10.00", None), line("C1", "A", "5.00", "5.00"),
            line("C1", "Z", "30.00", "0.00")]  # fmt: skip
    report = model.license_savings_report(CONTEXT, date(2024, 1, 1), rows, {"C1": "Acme"})
    assert [(x.client_id, x.product) for x in report.lines] == [("C1", "Z"), ("C1", "A"),
                                                                ("C2", "B")]  # fmt: skip
    assert report.totals.monthly_savings == Decimal("50.00")
    assert report.totals.annual_savings == Decimal("600.00")
    assert report.clients_without_licenses == ()


def test_a_license_assembled_without_some_facts_reports_them_as_unknown() -> None:
    """A row from vendor facts may lack seats or cost (metrics.md, missing_facts): the report
    prints n/a there and totals what is known, in the PDF and the XLSX alike."""
    from moatmetrics.reports import pdf, xlsx

    known = {"client_id": "C1", "vendor": "Microsoft", "product": "Microsoft 365 Business Premium",
             "month": date(2024, 1, 1), "seats_purchased": 10, "seats_active": 7,
             "unused_seats": 3, "monthly_waste": Decimal("66.00"), "unbilled_seats": 1,
             "monthly_leakage": Decimal("25.00"), "recommendation": "reclaim"}  # fmt: skip
    unknown = {**known, "product": "Exchange Online (Plan 1)", "seats_purchased": None,
               "seats_active": None, "unused_seats": None, "monthly_waste": None,
               "unbilled_seats": None, "monthly_leakage": None, "recommendation": "ok"}  # fmt: skip
    report = model.license_savings_report(CONTEXT, date(2024, 1, 1), [unknown, known], {})
    assert report.totals.unused_seats == 3 and report.totals.monthly_savings == Decimal("91.00")
    assert [line.monthly_savings for line in report.lines] == [Decimal("91.00"), Decimal("0")]
    assert pdf.license_savings_pdf(report).startswith(b"%PDF")
    assert xlsx.license_savings_xlsx(report)[:2] == b"PK"


def test_a_report_over_its_row_limit_is_refused_with_the_fix() -> None:
    page = ClientProfitabilityPage(
        mart="client_profitability", snapshot_id="S1", total=5_001, limit=5_000, offset=0, rows=[]
    )
    with pytest.raises(ProblemError) as refused:
        _rows(page, 5_000, "client-months", ReportParams("pdf", (), None, None))
    problem = refused.value.problem
    assert (problem.status, problem.type.rsplit(":", 1)[1]) == (422, "report-too-large")
    assert "5,001 client-months" in problem.detail and "format=xlsx" in problem.detail


EUROPEAN_NAMES = {"C1": "Łódź Dvořák Kft.", "C2": "Ősz & Þór ehf. — Ελληνικά · Москва · Nguyễn"}


def test_pdf_prints_european_client_names_with_real_glyphs() -> None:
    """Every letter of these names has a glyph in the embedded fonts (no empty boxes), and the
    PDF's text reads back as spelled; a script outside the fonts' subset is not covered."""
    import io

    from pypdf import PdfReader
    from reportlab.pdfbase import pdfmetrics

    from moatmetrics.reports import pdf

    for font in (pdf.FONT, pdf.BOLD, pdf.ITALIC):
        glyphs = pdfmetrics.getFont(font).face.charToGlyph
        for name in EUROPEAN_NAMES.values():
            assert [c for c in name if ord(c) not in glyphs] == [], (font, name)
        assert ord("漢") not in glyphs  # CJK: outside the subset, as docs/reports.md says

    rows = [_row("C1", 1, "100.00", "50.00", "2", confidence=0.9, needs_review=False)]
    report = model.profitability_report(CONTEXT, rows, EUROPEAN_NAMES)
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(pdf.profitability_pdf(report))).pages
    )
    for name in EUROPEAN_NAMES.values():
        assert name in text.replace("\n", " "), name
