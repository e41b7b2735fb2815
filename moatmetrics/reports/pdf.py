"""PDF rendering of the reports (reportlab), laid out for a quarterly business review.

Every page carries the report's title and scope, the snapshot id and the generation time, so a
printed page can always be traced to the numbers behind it. The fonts are DejaVu Sans (the
Bitstream Vera design, same metrics, many more letters), shipped with this package in
`fonts/` as a subset for Latin with all its European extensions, Greek and Cyrillic, and
embedded (subset again) in every file: no system font is assumed, and the text stays
extractable (ToUnicode maps), which the tests rely on. A client called "Łódź Dvořák" prints
as such; a character outside the subset (CJK, say) prints as an empty box, while the XLSX
keeps every character.

Each data row is one table row of plain cells (one text line, so a copy or a text extraction
reads it in order), followed by a full-width row with the row's explanation.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from moatmetrics.reports import formatting as fmt
from moatmetrics.reports.model import (
    RECOMMENDATIONS,
    ClientSection,
    LicenseSavingsReport,
    ProfitabilityReport,
    ReportContext,
    Totals,
)

FONT, BOLD, ITALIC = "MoatSans", "MoatSans-Bold", "MoatSans-Italic"
_FONT_DIR = Path(__file__).parent / "fonts"  # how they were made: fonts/README.md
NAVY = colors.HexColor("#1F3A5F")
MUTED = colors.HexColor("#5B6B7F")
RULE = colors.HexColor("#C9D2DC")
ZEBRA = colors.HexColor("#F4F6F9")
FLAGGED = colors.HexColor("#FFF3DC")
AMBER = colors.HexColor("#9A5B00")
# US and Canadian MSPs print on Letter, everyone else on A4.
_LETTER_CURRENCIES = {"USD", "CAD"}
# Names, vendors and products in a table cell are cut here ("…"): a few lines at most.
CELL_TEXT_LIMIT = 80


def _register_fonts() -> None:
    """Once per process, at import: paragraphs resolve their fonts when they are created."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    faces = ((FONT, "DejaVuSans"), (BOLD, "DejaVuSans-Bold"), (ITALIC, "DejaVuSans-Oblique"))
    for name, file in faces:
        pdfmetrics.registerFont(TTFont(name, str(_FONT_DIR / f"{file}.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=ITALIC, boldItalic=BOLD)


_register_fonts()


def _style(name: str, **kw: Any) -> ParagraphStyle:
    return ParagraphStyle(name, **{"fontName": FONT, "fontSize": 8, "leading": 10, **kw})


TITLE = _style("title", fontName=BOLD, fontSize=20, leading=24, textColor=NAVY)
SUBTITLE = _style("subtitle", fontSize=11, leading=14, textColor=MUTED)
HEADING = _style("heading", fontName=BOLD, fontSize=12, leading=15, textColor=NAVY,
                 spaceBefore=10, spaceAfter=4)  # fmt: skip
BODY = _style("body", fontSize=8.5, leading=11)
CELL = _style("cell")
NOTE = _style("note", fontName=ITALIC, fontSize=7, leading=9, textColor=MUTED)
TILE_VALUE = _style("tile", fontName=BOLD, fontSize=14, leading=17, textColor=NAVY)
TILE_LABEL = _style("tilelabel", fontSize=7.5, leading=9, textColor=MUTED)
HEAD = _style("head", fontName=BOLD, fontSize=7.5, leading=9, textColor=colors.white)
HEAD_RIGHT = ParagraphStyle("headright", parent=HEAD, alignment=TA_RIGHT)


def text(value: str | None) -> str:
    """Paragraph markup for untrusted text (client names, explanations), printable."""
    return escape(fmt.printable(value) or "")


class _NumberedCanvas(Canvas):
    """Draws 'page N of M' once the page count is known (pages are buffered until save)."""

    def __init__(self, *args: Any, decorate: Callable[[Canvas, int, int], None], **kw: Any):
        super().__init__(*args, **kw)
        self._pages: list[dict[str, Any]] = []
        self._decorate = decorate

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._decorate(self, number, total)
            super().showPage()
        super().save()


def _clip(text: str, width: float, font: str, size: float) -> str:
    """Text cut with "..." to fit a header or footer line."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "...", font, size) > width:
        text = text[:-1]
    return text + "..."


def _decorator(
    title: str, scope: str, context: ReportContext, size: tuple[float, float], brand: str | None
) -> Callable[[Canvas, int, int], None]:
    width, height = size
    stamp = (
        f"Snapshot {context.snapshot_id} - generated "
        f"{context.generated_at.strftime('%Y-%m-%d %H:%M UTC')}"
    )

    def decorate(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setFillColor(NAVY)
        canvas.rect(0, height - 11 * mm, width, 11 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont(BOLD, 9)
        heading = f"{brand} - {title}" if brand else title
        canvas.drawString(14 * mm, height - 7 * mm, _clip(heading, width / 2, BOLD, 9))
        canvas.setFont(FONT, 8)
        canvas.drawRightString(width - 14 * mm, height - 7 * mm, stamp)
        canvas.setFillColor(MUTED)
        canvas.setFont(FONT, 7)
        canvas.drawString(14 * mm, 8 * mm, _clip(scope, width / 2 - 40 * mm, FONT, 7))
        canvas.drawCentredString(width / 2, 8 * mm, "Confidential")
        canvas.drawRightString(width - 14 * mm, 8 * mm, f"Page {page} of {pages}")
        canvas.restoreState()

    return decorate


def page_size(context: ReportContext) -> tuple[float, float]:
    return landscape(letter if context.currency in _LETTER_CURRENCIES else A4)


def render(
    title: str,
    scope: str,
    context: ReportContext,
    story: list[Flowable],
    brand: str | None = "MoatMetrics",
) -> bytes:
    """The story as a PDF with the page header (`brand - title`) and footer on every page."""
    size = page_size(context)
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=17 * mm,
        bottomMargin=15 * mm,
        title=f"{title}: {scope}",
        author=brand or "MoatMetrics",
        subject=f"Snapshot {context.snapshot_id}",
        creator="MoatMetrics",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    decorate = _decorator(title, scope, context, size, brand)
    doc.build(story, canvasmaker=lambda *a, **kw: _NumberedCanvas(*a, decorate=decorate, **kw))
    return buffer.getvalue()


def front(title: str, subtitle: str, context: ReportContext, facts: Sequence[tuple[str, str]]):
    rows = [
        [Paragraph(label, TILE_LABEL), Paragraph(text(value), BODY)]
        for label, value in (
            *facts,
            ("Snapshot", context.snapshot_id),
            ("Generated", context.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
            ("Currency", context.currency),
        )
    ]
    table = Table(rows, colWidths=[32 * mm, 120 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))  # fmt: skip
    return [Paragraph(text(title), TITLE), Paragraph(text(subtitle), SUBTITLE),
            Spacer(1, 4 * mm), table, Spacer(1, 5 * mm)]  # fmt: skip


def tiles(tiles: Sequence[tuple[str, str]], width: float) -> Table:
    cells = [[Paragraph(text(value), TILE_VALUE) for _, value in tiles],
             [Paragraph(text(label), TILE_LABEL) for label, _ in tiles]]  # fmt: skip
    table = Table(cells, colWidths=[width / len(tiles)] * len(tiles), hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), ZEBRA),
        ("LINEABOVE", (0, 0), (-1, 0), 2, NAVY),
        ("LINEAFTER", (0, 0), (-2, -1), 4, colors.white),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, 0), 7),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 7),
    ]))  # fmt: skip
    return table


def header_cells(labels: Sequence[str], right_from: int) -> list[Paragraph]:
    """Header cells that wrap, right-aligned over the numeric columns."""
    return [Paragraph(text(label), HEAD_RIGHT if i >= right_from else HEAD)
            for i, label in enumerate(labels)]  # fmt: skip


def data_table(
    header: Sequence[str],
    rows: Sequence[tuple[Sequence[str], str | None, bool]],
    widths: Sequence[float],
    totals: Sequence[str] | None,
    right_from: int,
) -> Table:
    """Header, then per row its cells, its explanation below (spanning) and its flag colour."""
    data: list[list[Any]] = [header_cells(header, right_from)]
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("BACKGROUND", (0, 0), (-1, 0), NAVY),
        ("ALIGN", (right_from, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    for cells, explanation, flagged in rows:
        first = len(data)
        data.append(list(cells))
        note = Paragraph(text(explanation) or "No explanation.", NOTE)
        data.append([note] + [""] * (len(header) - 1))
        style += [("SPAN", (0, first + 1), (-1, first + 1)),
                  ("NOSPLIT", (0, first), (-1, first + 1)),  # a row stays with its explanation
                  ("LINEBELOW", (0, first + 1), (-1, first + 1), 0.4, RULE),
                  ("TOPPADDING", (0, first + 1), (-1, first + 1), 0),
                  ("BOTTOMPADDING", (0, first + 1), (-1, first + 1), 4)]  # fmt: skip
        if flagged:
            style += [("BACKGROUND", (0, first), (-1, first + 1), FLAGGED),
                      ("TEXTCOLOR", (0, first), (-1, first), AMBER)]  # fmt: skip
    if totals is not None:
        data.append(list(totals))
        if len(data) > 3:  # the totals never start a page alone
            style.append(("NOSPLIT", (0, -3), (-1, -1)))
        style += [("FONT", (0, -1), (-1, -1), BOLD, 8),
                  ("LINEABOVE", (0, -1), (-1, -1), 1, NAVY),
                  ("BACKGROUND", (0, -1), (-1, -1), ZEBRA)]  # fmt: skip
    table = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return table


def fit(value: str, width: float) -> str | Paragraph:
    """Plain text when it fits its column (one line), else a wrapping paragraph of at most
    CELL_TEXT_LIMIT characters (a 200-character name in a narrow column would otherwise make
    a row taller than the page; the XLSX holds the whole text)."""
    value = fmt.printable(value, CELL_TEXT_LIMIT)
    if pdfmetrics.stringWidth(value, FONT, 8) <= width - 12:
        return value
    return Paragraph(text(value), CELL)


def scaled(fractions: Sequence[float], width: float) -> list[float]:
    total = sum(fractions)
    return [width * f / total for f in fractions]


# --- client profitability ---------------------------------------------------------------

PROFITABILITY_HEADER = ("Month", "Revenue", "Total cost", "Gross profit", "Gross margin",
                        "Eff. hourly rate", "Confidence", "Review")  # fmt: skip


def _totals_cells(label: str, totals: Totals) -> list[str]:
    return [
        label,
        fmt.money(totals.revenue),
        fmt.money(totals.total_cost),
        fmt.money(totals.gross_profit),
        fmt.percent(totals.gross_margin),
        fmt.money(totals.effective_hourly_rate),
        "min " + fmt.confidence(totals.lowest_confidence),
        f"{totals.months_to_review} of {totals.months}",
    ]


def _client_story(section: ClientSection, width: float) -> list[Flowable]:
    heading = Paragraph(text(section.title), HEADING)
    if not section.months:
        return [KeepTogether([heading, Paragraph("No client profitability rows in this period.",
                                                 BODY)])]  # fmt: skip
    rows = [
        (
            [
                fmt.month(m.month),
                fmt.money(m.revenue),
                fmt.money(m.total_cost),
                fmt.money(m.gross_profit),
                fmt.percent(m.gross_margin),
                fmt.money(m.effective_hourly_rate),
                fmt.confidence(m.confidence),
                fmt.flag(m.needs_review),
            ],
            m.explanation,
            bool(m.needs_review),
        )  # fmt: skip
        for m in section.months
    ]
    widths = scaled([1.1, 1.3, 1.3, 1.3, 1.1, 1.2, 1.0, 0.9], width)
    totals = _totals_cells("Period total", section.totals)
    table = data_table(PROFITABILITY_HEADER, rows, widths, totals, right_from=1)
    return [CondPageBreak(40 * mm), heading, table]


def _summary_table(report: ProfitabilityReport, width: float) -> Table:
    header = ["Client", "Months", "Revenue", "Total cost", "Gross profit", "Gross margin",
              "Eff. hourly rate", "Lowest confidence", "Months to review"]  # fmt: skip
    data: list[list[Any]] = [header_cells(header, 1)]
    for section in report.clients:
        t = section.totals
        data.append([Paragraph(text(section.title), CELL), str(t.months), fmt.money(t.revenue),
                     fmt.money(t.total_cost), fmt.money(t.gross_profit),
                     fmt.percent(t.gross_margin), fmt.money(t.effective_hourly_rate),
                     fmt.confidence(t.lowest_confidence), str(t.months_to_review)])  # fmt: skip
    t = report.totals
    data.append(["All clients in this report", str(t.months), fmt.money(t.revenue),
                 fmt.money(t.total_cost), fmt.money(t.gross_profit), fmt.percent(t.gross_margin),
                 fmt.money(t.effective_hourly_rate), fmt.confidence(t.lowest_confidence),
                 str(t.months_to_review)])  # fmt: skip
    table = Table(data, colWidths=scaled([3.2, 0.8, 1.3, 1.3, 1.3, 1.1, 1.2, 1.2, 1.1], width),
                  repeatRows=1, hAlign="LEFT")  # fmt: skip
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("BACKGROUND", (0, 0), (-1, 0), NAVY),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, ZEBRA]),
        ("FONT", (0, -1), (-1, -1), BOLD, 8),
        ("LINEABOVE", (0, -1), (-1, -1), 1, NAVY),
    ]))  # fmt: skip
    return table


def _profitability_notes(context: ReportContext) -> list[Flowable]:
    notes = (
        "Revenue: invoice lines of the month, drafts and voided invoices excluded. Total cost: "
        "labour (hours x the technician's loaded hourly cost) + license cost + other costs.",
        "Gross margin = gross profit / revenue (n/a when revenue is zero or negative). "
        "Effective hourly rate = (revenue - license cost - other cost) / labour hours "
        "(n/a without hours). Period totals apply the same formulas to the summed amounts.",
        "Confidence (0 to 1) says how far a month's numbers can be trusted: cost completeness, "
        "evidence volume, data quality, consistency with the previous months and coverage. "
        f"Review: confidence below {context.review_threshold:g}; the month's numbers should be "
        "checked before they are relied on. The period total shows the lowest confidence.",
    )
    return [CondPageBreak(30 * mm), Paragraph("How to read this report", HEADING),
            *[Paragraph(text(note), BODY) for note in notes]]  # fmt: skip


def profitability_pdf(report: ProfitabilityReport) -> bytes:
    """The client profitability report: summary, then one table per client with totals."""
    context = report.context
    period = fmt.period(report.first_month, report.last_month)
    if len(report.clients) == 1:
        scope = asked = report.clients[0].title
    else:
        scope = f"{context.scope} ({len(report.clients)})"
        asked = f"{context.clients_asked} ({len(report.clients)})"
    width = page_size(context)[0] - 28 * mm
    t = report.totals
    story: list[Flowable] = front(
        "Client profitability",
        f"{scope} - {period}",
        context,
        [("Clients", asked), ("Period", period)],
    )
    story.append(tiles([
        (f"Revenue ({context.currency})", fmt.money(t.revenue)),
        (f"Gross profit ({context.currency})", fmt.money(t.gross_profit)),
        ("Gross margin", fmt.percent(t.gross_margin)),
        ("Months to review", f"{t.months_to_review} of {t.months}"),
    ], width))  # fmt: skip
    if len(report.clients) > 1:
        story += [Paragraph("Clients at a glance", HEADING), _summary_table(report, width)]
    for section in report.clients:
        story += _client_story(section, width)
    story += _profitability_notes(context)
    return render("Client profitability", f"{scope} - {period}", context, story)


# --- license savings --------------------------------------------------------------------

LICENSE_HEADER = ("Client", "Vendor", "Product", "Renews", "Unused seats", "Monthly waste",
                  "Unbilled seats", "Monthly leakage", "Monthly savings", "Action",
                  "Confidence")  # fmt: skip


def license_savings_pdf(report: LicenseSavingsReport) -> bytes:
    """License savings: one row per product, largest monthly savings first, with totals."""
    context = report.context
    month = fmt.month(report.month) if report.month else "no license data"
    scope = context.scope
    width = page_size(context)[0] - 28 * mm
    t = report.totals
    story: list[Flowable] = front(
        "License savings",
        f"{scope} - seats as of {month}",
        context,
        [("Clients", context.clients_asked), ("Seats as of", month),
         ("Period asked", fmt.asked_period(context.month_from, context.month_to))],
    )  # fmt: skip
    story.append(tiles([
        (f"Monthly savings ({context.currency})", fmt.money(t.monthly_savings)),
        (f"Annualised ({context.currency})", fmt.money(t.annual_savings)),
        ("Unused seats", fmt.count(t.unused_seats)),
        ("Unbilled seats", fmt.count(t.unbilled_seats)),
    ], width))  # fmt: skip
    story.append(Paragraph("Products by monthly savings", HEADING))
    widths = scaled([1.4, 1.1, 2.1, 0.9, 0.6, 0.9, 0.6, 0.9, 0.95, 0.8, 0.75], width)
    rows = [
        (
            [
                fit(line.client_name or line.client_id, widths[0]),
                fit(line.vendor or fmt.NONE, widths[1]),
                fit(line.product, widths[2]),
                fmt.day(line.renewal),
                fmt.count(line.unused_seats),
                fmt.money(line.monthly_waste),
                fmt.count(line.unbilled_seats),
                fmt.money(line.monthly_leakage),
                fmt.money(line.monthly_savings),
                RECOMMENDATIONS.get(line.recommendation, line.recommendation),
                fmt.confidence(line.confidence),
            ],
            " - ".join(p for p in (line.client_id, line.explanation) if p),
            bool(line.needs_review),
        )  # fmt: skip
        for line in report.lines
    ]
    totals = ["Total", "", f"{t.products} products", "", fmt.count(t.unused_seats),
              fmt.money(t.monthly_waste), fmt.count(t.unbilled_seats),
              fmt.money(t.monthly_leakage), fmt.money(t.monthly_savings), "", ""]  # fmt: skip
    if rows:
        story.append(data_table(LICENSE_HEADER, rows, widths, totals, right_from=4))
    else:
        story.append(Paragraph("No license rows for these clients in this period.", BODY))
    if report.clients_without_licenses:
        story.append(Paragraph(
            text("No licenses in this month for: " + ", ".join(report.clients_without_licenses)),
            BODY))  # fmt: skip
    notes = (
        "Unused seats = purchased - active; monthly waste = unused seats x unit cost (what "
        "reclaiming them saves). Unbilled seats = assigned - billed; monthly leakage = unbilled "
        "seats x unit price (what billing them recovers; n/a when the export does not say how "
        "many seats are billed). Monthly savings = waste + leakage; annualised = x 12.",
        "Renews: the end of the subscription's current term as the license export has it "
        "(n/a when the export does not say).",
        "Recommendations, the first that applies: true up (more seats assigned than "
        "purchased), bill client (assigned seats not billed), reclaim (unused seats and under "
        "80 % of the seats active), no action.",
        f"Highlighted rows have a confidence below {context.review_threshold:g}: check the "
        "seat counts before acting on them.",
    )
    story += [CondPageBreak(30 * mm), Paragraph("How to read this report", HEADING),
              *[Paragraph(text(n), BODY) for n in notes]]  # fmt: skip
    return render("License savings", f"{scope} - as of {month}", context, story)
