"""XLSX rendering of the reports (openpyxl, write-only: rows stream into the file).

Numbers are real numbers with number formats (money `#,##0.00`, margins `0.0%`, months as
dates), so a finance team can sum, filter and pivot them. Text from the data (client names,
vendors, products, explanations) is never a formula: a value starting with `=`, `+`, `-`, `@`
(or a tab or carriage return, which some spreadsheet programs skip before such a sign) gets a
leading `'` (`moatmetrics.formulas.neutralise`, the rule every CSV writer uses too) and every
text cell is written as a string cell, so opening the file or re-saving it as CSV cannot run
anything (OWASP "CSV injection").
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from moatmetrics.formulas import neutralise
from moatmetrics.reports import formatting as fmt
from moatmetrics.reports.model import (
    FACTORS,
    RECOMMENDATIONS,
    LicenseSavingsReport,
    ProfitabilityReport,
    ReportContext,
    Totals,
)

MONEY = "#,##0.00"
PERCENT = "0.0%"
RATIO = "0.00"
MONTH = "mmm yyyy"
DAY = "yyyy-mm-dd"
COUNT = "#,##0"
EXCEL_CELL_CHARS = 32_767  # the most text one cell holds

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=16, color="1F3A5F")
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F3A5F")
_FLAG_FILL = PatternFill("solid", fgColor="FFF3DC")
_WRAP = Alignment(wrap_text=True, vertical="top")


def _cell(sheet: WriteOnlyWorksheet, value: Any, number_format: str | None = None,
          font: Font | None = None, fill: PatternFill | None = None,
          alignment: Alignment | None = None) -> WriteOnlyCell:  # fmt: skip
    if value == "":
        cell = WriteOnlyCell(sheet, value=None)
    elif isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=fmt.printable(neutralise(value), EXCEL_CELL_CHARS))
        cell.data_type = "s"  # never "f", whatever the text
    else:
        cell = WriteOnlyCell(sheet, value=value)
    if number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if alignment:
        cell.alignment = alignment
    return cell


Column = tuple[str, float, str | None]  # header, width, number format


def _sheet(book: Workbook, title: str, columns: Sequence[Column]) -> WriteOnlyWorksheet:
    sheet = book.create_sheet(title)
    for index, (_, width, _) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    return sheet


def _table_header(sheet: WriteOnlyWorksheet, columns: Sequence[Column]) -> None:
    sheet.append([_cell(sheet, name, font=_HEADER_FONT, fill=_HEADER_FILL)
                  for name, _, _ in columns])  # fmt: skip


def _row(sheet: WriteOnlyWorksheet, columns: Sequence[Column], values: Sequence[Any],
         fill: PatternFill | None = None, font: Font | None = None) -> None:  # fmt: skip
    sheet.append([
        _cell(sheet, value, fmt_, font=font, fill=fill,
              alignment=_WRAP if isinstance(value, str) and len(value) > 60 else None)
        for (_, _, fmt_), value in zip(columns, values, strict=True)
    ])  # fmt: skip


def _about(book: Workbook, title: str, context: ReportContext,
           facts: Iterable[tuple[str, Any]], notes: Iterable[str]) -> None:  # fmt: skip
    columns: list[Column] = [("", 26, None), ("", 110, None)]
    sheet = _sheet(book, "About", columns)
    sheet.append([_cell(sheet, title, font=_TITLE)])
    for label, value in (
        *facts,
        ("Snapshot", context.snapshot_id),
        ("Generated (UTC)", context.generated_at.strftime("%Y-%m-%d %H:%M:%S")),
        ("Currency", context.currency),
        ("Review threshold", context.review_threshold),
    ):
        number_format = MONTH if isinstance(value, date) else None
        sheet.append([_cell(sheet, label, font=_BOLD), _cell(sheet, value, number_format)])
    sheet.append([])
    for note in notes:
        sheet.append([_cell(sheet, ""), _cell(sheet, note, alignment=_WRAP)])


def _workbook(title: str, context: ReportContext) -> Workbook:
    book = Workbook(write_only=True)
    book.properties.title = f"{title}: {context.scope}"
    book.properties.subject = f"Snapshot {context.snapshot_id}"
    book.properties.creator = "MoatMetrics"
    book.properties.created = context.generated_at.replace(tzinfo=None)
    return book


def _save(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- client profitability ---------------------------------------------------------------

SUMMARY_COLUMNS: list[Column] = [
    ("Client ID", 12, None), ("Client", 34, None), ("Months", 9, COUNT),
    ("Revenue", 15, MONEY), ("Total cost", 15, MONEY), ("Gross profit", 15, MONEY),
    ("Gross margin", 13, PERCENT), ("Effective hourly rate", 15, MONEY),
    ("Lowest confidence", 12, RATIO), ("Months to review", 12, COUNT),
]  # fmt: skip
MONTH_COLUMNS: list[Column] = [
    ("Client ID", 12, None), ("Client", 30, None), ("Month", 11, MONTH),
    ("Revenue", 14, MONEY), ("Total cost", 14, MONEY), ("Gross profit", 14, MONEY),
    ("Gross margin", 12, PERCENT), ("Effective hourly rate", 14, MONEY),
    ("Confidence", 11, RATIO), ("Needs review", 11, None), ("Review status", 13, None),
    ("Explanation", 90, None),
    *((name.removeprefix("confidence_").replace("_", " ").capitalize(), 12, RATIO)
      for name in FACTORS),
]  # fmt: skip


def _totals_values(client_id: str, name: str, totals: Totals) -> list[Any]:
    return [client_id, name, totals.months, totals.revenue, totals.total_cost,
            totals.gross_profit, totals.gross_margin, totals.effective_hourly_rate,
            totals.lowest_confidence, totals.months_to_review]  # fmt: skip


def profitability_xlsx(report: ProfitabilityReport) -> bytes:
    """Sheets: Summary (one row per client, totals), Client months (every row), About."""
    context = report.context
    book = _workbook("Client profitability", context)
    summary = _sheet(book, "Summary", SUMMARY_COLUMNS)
    summary.freeze_panes = "A2"
    _table_header(summary, SUMMARY_COLUMNS)
    for section in report.clients:
        _row(
            summary,
            SUMMARY_COLUMNS,
            _totals_values(section.client_id, section.client_name or "", section.totals),
        )
    _row(summary, SUMMARY_COLUMNS, _totals_values("Total", "All clients in this report",
                                                  report.totals), font=_BOLD)  # fmt: skip

    months = _sheet(book, "Client months", MONTH_COLUMNS)
    months.freeze_panes = "D2"
    months.auto_filter.ref = f"A1:{get_column_letter(len(MONTH_COLUMNS))}{report.row_count + 1}"
    _table_header(months, MONTH_COLUMNS)
    for section in report.clients:
        for m in section.months:
            values = [section.client_id, section.client_name or "", m.month, m.revenue,
                      m.total_cost, m.gross_profit, m.gross_margin, m.effective_hourly_rate,
                      m.confidence, fmt.flag(m.needs_review), m.review_status or "",
                      m.explanation or "", *(m.factors.get(name) for name in FACTORS)]  # fmt: skip
            _row(months, MONTH_COLUMNS, values, fill=_FLAG_FILL if m.needs_review else None)

    _about(
        book,
        "Client profitability",
        context,
        [
            ("Clients", context.clients_asked),
            ("Period", fmt.period(report.first_month, report.last_month)),
        ],  # fmt: skip
        [
            "Gross margin = gross profit / revenue (empty when revenue <= 0). Effective hourly "
            "rate = (revenue - license cost - other cost) / labour hours (empty without hours).",
            "Totals apply the same formulas to the summed amounts; 'Lowest confidence' is the "
            "lowest monthly confidence of the client in the period.",
            "Confidence (0 to 1) and its five factors are described in docs/trust.md; 'Review' "
            "means confidence below the review threshold.",
            "Text that starts with =, +, - or @ is shown with a leading ' so it is never run "
            "as a formula.",
        ],
    )
    return _save(book)


# --- license savings --------------------------------------------------------------------

LICENSE_COLUMNS: list[Column] = [
    ("Client ID", 12, None), ("Client", 30, None), ("Vendor", 16, None), ("Product", 32, None),
    ("Month", 11, MONTH), ("Renews", 12, DAY), ("Seats purchased", 11, COUNT),
    ("Seats active", 11, COUNT),
    ("Unused seats", 11, COUNT), ("Monthly waste", 14, MONEY), ("Unbilled seats", 11, COUNT),
    ("Monthly leakage", 14, MONEY), ("Monthly savings", 14, MONEY),
    ("Recommendation", 14, None), ("Action", 14, None), ("Confidence", 11, RATIO),
    ("Needs review", 11, None), ("Explanation", 90, None),
]  # fmt: skip


def license_savings_xlsx(report: LicenseSavingsReport) -> bytes:
    """Sheets: Savings (one row per product, largest savings first, totals last), About."""
    context = report.context
    book = _workbook("License savings", context)
    sheet = _sheet(book, "Savings", LICENSE_COLUMNS)
    sheet.freeze_panes = "E2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(LICENSE_COLUMNS))}{len(report.lines) + 1}"
    _table_header(sheet, LICENSE_COLUMNS)
    for line in report.lines:
        values = [line.client_id, line.client_name or "", line.vendor or "", line.product,
                  line.month, line.renewal, line.seats_purchased, line.seats_active,
                  line.unused_seats,
                  line.monthly_waste, line.unbilled_seats, line.monthly_leakage,
                  line.monthly_savings, line.recommendation,
                  RECOMMENDATIONS.get(line.recommendation, line.recommendation),
                  line.confidence, fmt.flag(line.needs_review), line.explanation or ""]  # fmt: skip
        _row(sheet, LICENSE_COLUMNS, values, fill=_FLAG_FILL if line.needs_review else None)
    t = report.totals
    _row(sheet, LICENSE_COLUMNS,
         ["Total", f"{t.products} products", None, None, None, None, None, None, t.unused_seats,
          t.monthly_waste, t.unbilled_seats, t.monthly_leakage, t.monthly_savings, None, None,
          None, f"{t.to_review} to review", None], font=_BOLD)  # fmt: skip
    month: date | None = report.month
    _about(
        book,
        "License savings",
        context,
        [
            ("Clients", context.clients_asked),
            ("Seats as of", month),
            ("Monthly savings", t.monthly_savings),
            ("Annualised savings", t.annual_savings),
            ("Clients without licenses that month", ", ".join(report.clients_without_licenses)),
        ],
        [
            "One row per client, vendor and product in the latest month with license data in "
            "the period asked, largest monthly savings first.",
            "Monthly waste = unused seats x unit cost; monthly leakage = unbilled seats x unit "
            "price (empty when the export does not say how many seats are billed); monthly "
            "savings = waste + leakage (unknown leakage counts 0).",
            "Renews: the end of the subscription's current term (term_end_date of the license"
            " export); empty when the export does not say.",
            "Recommendation codes: true_up, bill_client, reclaim, ok (docs/metrics.md).",
            "Text that starts with =, +, - or @ is shown with a leading ' so it is never run "
            "as a formula.",
        ],
    )
    return _save(book)
