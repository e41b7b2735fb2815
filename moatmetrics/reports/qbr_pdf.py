"""PDF of the client's QBR (`qbr.ClientQbr`): the MSP's name and logo, charts, the outlook,
seats, renewals.

Drawn with reportlab like the internal reports (`pdf`: same fonts, page size, header and
footer), the charts included (reportlab.graphics: vector drawings, no image library, no
network). The header carries the MSP's name instead of "MoatMetrics". The logo is the
configured PNG or JPEG, embedded as it is, scaled to fit the front page's corner.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import CondPageBreak, Flowable, Image, Paragraph, Spacer, Table, TableStyle

from moatmetrics.reports import formatting as fmt
from moatmetrics.reports.pdf import (
    BODY,
    BOLD,
    CELL,
    FONT,
    HEADING,
    MUTED,
    NAVY,
    RULE,
    SUBTITLE,
    ZEBRA,
    fit,
    front,
    header_cells,
    page_size,
    render,
    scaled,
    text,
    tiles,
)
from moatmetrics.reports.qbr import ClientQbr, SeatLine

TITLE = "Quarterly business review"
LOGO_HEIGHT = 16 * mm
LOGO_MAX_WIDTH = 60 * mm
TEAL = colors.HexColor("#3C8D93")
# A chart with more products than this shows the ones with the most seats (the table has all).
MAX_CHART_PRODUCTS = 12


def logo_flowable(data: bytes) -> Image:
    """The logo scaled to the front page's corner; ValueError (with the reason) when the
    bytes are not an image reportlab can decode (a PNG or JPEG header on a broken file)."""
    try:
        reader = ImageReader(io.BytesIO(data))
        width, height = reader.getSize()
        reader.getRGBData()  # decodes every pixel: a truncated file fails here, not mid-PDF
    except Exception as exc:  # reportlab and Pillow raise many kinds for a broken image
        raise ValueError(f"the image cannot be decoded ({type(exc).__name__}): save it again"
                         " as PNG or JPEG") from None  # fmt: skip
    if width <= 0 or height <= 0:
        raise ValueError("the image has no pixels: save it again as PNG or JPEG")
    scale = min(LOGO_HEIGHT / height, LOGO_MAX_WIDTH / width)
    return Image(io.BytesIO(data), width=width * scale, height=height * scale, hAlign="LEFT")


def _masthead(report: ClientQbr, width: float) -> list[Flowable]:
    """Logo and "Prepared by <MSP>" above the title (nothing when neither is configured)."""
    name = report.branding.company_name
    logo = logo_flowable(report.branding.logo) if report.branding.logo else None
    if logo is None or name is None:
        by = [Paragraph(text(f"Prepared by {name}"), SUBTITLE)] if name else []
        return [*([logo] if logo else []), *by, Spacer(1, 3 * mm)] if logo or name else []
    by = Paragraph(text(f"Prepared by {name}"), SUBTITLE)
    first = logo.drawWidth + 6 * mm
    table = Table([[logo, by]], colWidths=[first, width - first], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("LEFTPADDING", (0, 0), (0, 0), 0)]))  # fmt: skip
    return [table, Spacer(1, 3 * mm)]


def _month_short(index: int, label: str, every: int) -> str:
    return label if index % every == 0 else ""


def _bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float], width: float, color: Any
) -> Drawing:
    """Vertical bars per month with a title; every n-th month labelled so labels never clash."""
    height = 62 * mm
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, title, fontName=BOLD, fontSize=9, fillColor=NAVY))
    chart = VerticalBarChart()
    chart.x, chart.y = 14 * mm, 12 * mm
    chart.width, chart.height = width - 18 * mm, height - 26 * mm
    chart.data = [list(values) or [0]]
    every = max(1, math.ceil(len(labels) / 12))
    chart.categoryAxis.categoryNames = [_month_short(i, label, every)
                                        for i, label in enumerate(labels)] or [""]  # fmt: skip
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 30 if len(labels) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 6 else "n"
    chart.categoryAxis.strokeColor = RULE
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6.5
    chart.valueAxis.labelTextFormat = lambda value: f"{value:,.0f}"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.strokeColor = RULE
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = ZEBRA
    chart.bars[0].fillColor = color
    chart.bars[0].strokeColor = None
    drawing.add(chart)
    return drawing


def _seat_chart(seats: Sequence[SeatLine], width: float) -> Drawing:
    """Seats purchased and in use per product (the ones with the most seats)."""
    shown = sorted(seats, key=lambda s: (-(s.seats_purchased or 0), s.product))
    shown = shown[:MAX_CHART_PRODUCTS]
    height = (24 + 9 * len(shown)) * mm / 2 + 20 * mm
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, "Seats purchased and in use", fontName=BOLD,
                       fontSize=9, fillColor=NAVY))  # fmt: skip
    for offset, (label, color) in enumerate((("Purchased", NAVY), ("In use", TEAL))):
        left = width - (50 - 25 * offset) * mm
        drawing.add(Rect(left, height - 10, 7, 7, fillColor=color, strokeColor=None))
        drawing.add(String(left + 10, height - 9, label, fontName=FONT, fontSize=7,
                           fillColor=MUTED))  # fmt: skip
    chart = HorizontalBarChart()
    chart.x, chart.y = 70 * mm, 8 * mm
    chart.width, chart.height = width - 76 * mm, height - 22 * mm
    # a fact the export did not give is drawn as no bar (the table says n/a)
    chart.data = [[s.seats_purchased or 0 for s in shown], [s.seats_active or 0 for s in shown]]
    chart.categoryAxis.categoryNames = [fmt.printable(s.product, 45) for s in shown]
    chart.categoryAxis.reverseDirection = True  # the largest at the top
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.strokeColor = RULE
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6.5
    chart.valueAxis.labelTextFormat = lambda value: f"{value:,.0f}"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.strokeColor = RULE
    chart.bars[0].fillColor = NAVY
    chart.bars[1].fillColor = TEAL
    for index in (0, 1):
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    return drawing


def _table(
    head: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float],
    total: Sequence[str] | None, right_from: int,
) -> Table:  # fmt: skip
    """A plain striped table (no explanation rows: the client's report has none)."""
    data: list[list[Any]] = [header_cells(head, right_from), *[list(r) for r in rows]]
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("BACKGROUND", (0, 0), (-1, 0), NAVY),
        ("ALIGN", (right_from, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, len(rows)), [colors.white, ZEBRA]),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
    ]
    if total is not None:
        data.append(list(total))
        style += [("FONT", (0, -1), (-1, -1), BOLD, 8),
                  ("LINEABOVE", (0, -1), (-1, -1), 1, NAVY)]  # fmt: skip
    table = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return table


def _services(report: ClientQbr, width: float) -> list[Flowable]:
    if not report.months:
        return [Paragraph("Services by month", HEADING),
                Paragraph("No invoices or support hours in this period.", BODY)]  # fmt: skip
    rows = [[fmt.month(m.month), fmt.money(m.invoiced), fmt.money(m.recurring),
             fmt.money(m.invoiced - m.recurring), fmt.hours(m.support_hours)]
            for m in report.months]  # fmt: skip
    total = ["Period total", fmt.money(report.invoiced), fmt.money(report.recurring),
             fmt.money(report.invoiced - report.recurring),
             fmt.hours(report.support_hours)]  # fmt: skip
    head = ("Month", f"Invoiced ({report.context.currency})", "Recurring services",
            "Projects and other", "Support hours")  # fmt: skip
    half = width / 2 - 4 * mm
    labels = [fmt.month(m.month) for m in report.months]
    charts = Table(
        [[_bar_chart(f"Invoiced per month ({report.context.currency})", labels,
                     [float(m.invoiced) for m in report.months], half, NAVY),
          _bar_chart("Support hours per month", labels,
                     [float(m.support_hours) for m in report.months], half, TEAL)]],
        colWidths=[width / 2, width / 2], hAlign="LEFT",
    )  # fmt: skip
    return [Paragraph("Trends", HEADING), charts, CondPageBreak(50 * mm),
            Paragraph("Services by month", HEADING),
            _table(head, rows, scaled([1.2, 1.3, 1.3, 1.3, 1.1], width * 0.75), total,
                   right_from=1)]  # fmt: skip


def _range(low_high: tuple[Decimal, Decimal] | None, suffix: str = "") -> str:
    return (
        fmt.NONE
        if low_high is None
        else (f"{fmt.money(low_high[0])} to {fmt.money(low_high[1])}{suffix}")
    )


def _outlook(report: ClientQbr, width: float) -> list[Flowable]:
    """How invoicing and support hours moved, and the next three months at that pace."""
    story: list[Flowable] = [CondPageBreak(50 * mm), Paragraph("Outlook", HEADING)]
    story += [Paragraph(text(p.sentence), BODY) for p in report.pace]
    if not report.outlook or report.outlook_from is None:
        story.append(Paragraph("Not enough history yet for a look ahead.", BODY))
        return story
    currency = report.context.currency
    story += [
        Spacer(1, 2 * mm),
        Paragraph(text(f"The three months after {fmt.month(report.outlook_from)}, at the "
                       "recent pace, with the range 8 in 10 months are expected to fall in:"),
                  BODY),
    ]  # fmt: skip
    rows = [[fmt.month(m.month), fmt.money(m.invoiced), _range(m.invoiced_range),
             fmt.hours(m.support_hours), _range(m.hours_range)]
            for m in report.outlook]  # fmt: skip
    head = ("Month", f"Invoicing ({currency})", "Likely range", "Support hours", "Likely range")
    story.append(_table(head, rows, scaled([1.0, 1.2, 1.8, 1.1, 1.6], width * 0.8), None,
                        right_from=1))  # fmt: skip
    return story


def _licenses(report: ClientQbr, width: float) -> list[Flowable]:
    heading = Paragraph(
        "Licenses and recommendations"
        + (f" (seats as of {fmt.month(report.seats_month)})" if report.seats_month else ""),
        HEADING,
    )
    if not report.seats:
        return [heading, Paragraph("No licenses on record in this period.", BODY)]
    currency = report.context.currency
    widths = scaled([1.1, 2.2, 1.0, 0.8, 0.8, 0.7, 0.7, 0.9, 1.6, 1.1], width)
    rows = [[fit(s.vendor or fmt.NONE, widths[0]), fit(s.product, widths[1]), fmt.day(s.renewal),
             fmt.count(s.seats_purchased), fmt.count(s.seats_active), fmt.count(s.unused_seats),
             fmt.percent(s.utilization_rate), fmt.money(s.unit_price),
             Paragraph(text(s.action), CELL), fmt.money(s.unused_price)]
            for s in report.seats]  # fmt: skip
    head = ("Vendor", "Product", "Renews", "Seats", "In use", "Unused", "Use",
            f"Price per seat ({currency})", "Recommendation",
            f"Unused seats, price per month ({currency})")  # fmt: skip
    story: list[Flowable] = [heading, _table(head, rows, widths, None, right_from=3)]
    if report.possible_saving > Decimal(0):
        story.append(Spacer(1, 2 * mm))
        story.append(Paragraph(text(
            f"Removing the unused seats recommended above would lower your monthly invoice by"
            f" {fmt.money(report.possible_saving)} {currency}."), BODY))  # fmt: skip
    story += [CondPageBreak(40 * mm), _seat_chart(report.seats, width)]
    return story


def _notes() -> list[Flowable]:
    notes = (
        "Invoiced: the invoice lines of each month (drafts and voided invoices left out); "
        "recurring services are the monthly contracts and licenses, projects and other "
        "everything else. Support hours: the time our team logged on your work that month.",
        "Licenses: the seats on record in the latest month of the period. Seats in use are "
        "the active users the vendor reports; Renews is the end of the current term as the "
        "vendor's export has it (n/a when it does not say).",
        "Outlook: invoicing at the median of the last six months, support hours at the "
        "median per working day of the last twelve months times the working days ahead; the "
        "likely range comes from how far this method missed on your own history. A direction "
        "needs at least three months; small moves count as steady.",
        "Recommendations: add seats when more users are assigned than seats purchased; remove "
        "unused seats when fewer than 80 % are in use; confirm the seat count when the seats "
        "in use differ from the seats on your invoice.",
    )
    return [CondPageBreak(30 * mm), Paragraph("How to read this report", HEADING),
            *[Paragraph(text(note), BODY) for note in notes]]  # fmt: skip


def client_qbr_pdf(report: ClientQbr) -> bytes:
    """The client's QBR: masthead, headline figures, trends, services, licenses, notes."""
    context = report.context
    period = fmt.period(report.first_month, report.last_month)
    if period == "no months":
        period = fmt.asked_period(context.month_from, context.month_to)
    width = page_size(context)[0] - 28 * mm
    seats = fmt.month(report.seats_month) if report.seats_month else "no license data"
    facts = [("Client", report.title), ("Period", period), ("Licenses as of", seats)]
    story: list[Flowable] = _masthead(report, width)
    story += front(TITLE, f"{report.title} - {period}", context, facts)
    story.append(tiles([
        (f"Invoiced ({context.currency})", fmt.money(report.invoiced)),
        (f"Recurring services ({context.currency})", fmt.money(report.recurring)),
        ("Support hours", fmt.hours(report.support_hours)),
        (f"Possible monthly saving ({context.currency})", fmt.money(report.possible_saving)),
    ], width))  # fmt: skip
    story += _services(report, width)
    story += _outlook(report, width)
    story += [CondPageBreak(60 * mm), *_licenses(report, width), *_notes()]
    return render(TITLE, f"{report.title} - {period}", context, story, report.branding.company_name)
