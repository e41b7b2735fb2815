"""Report content from mart rows: what each report shows, grouped, totalled and sorted.

Rows arrive as mappings with the API's column names and types (`Decimal` money, `float`
rates), exactly as `/api/v1/marts/...` serves them, so every number a report prints is one the
API shows too. Totals follow the metric definitions of docs/metrics.md applied to the summed
inputs (a period's gross margin is its summed gross profit over its summed revenue, not an
average of monthly margins).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from moatmetrics.reports import formatting as fmt

Row = Mapping[str, Any]
# Beyond this many table rows a PDF stops being a document anyone reads (about 150 pages).
MAX_PDF_ROWS = 5_000
# Beyond this many rows a workbook is no longer a report, and it takes ~15 s to write (Excel's
# own limit is 1,048,576 rows).
MAX_XLSX_ROWS = 50_000
_CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ReportContext:
    """Where a report's numbers come from and what was asked for."""

    snapshot_id: str
    generated_at: datetime
    currency: str
    review_threshold: float
    client_ids: tuple[str, ...] = ()  # empty: all clients
    month_from: date | None = None
    month_to: date | None = None

    @property
    def scope(self) -> str:
        """`All clients`, `C1, C2` or `C1, C2, C3 and 7 more` (headers stay one line)."""
        if not self.client_ids:
            return "All clients"
        shown = ", ".join(self.client_ids[:3])
        more = len(self.client_ids) - 3
        return f"{shown} and {more} more" if more > 0 else shown

    @property
    def clients_asked(self) -> str:
        """Every client asked for (the front page and the About sheet list them all)."""
        return ", ".join(self.client_ids) if self.client_ids else "All clients"


@dataclass(frozen=True)
class ClientMonth:
    """One client in one month, as client_profitability has it."""

    month: date
    revenue: Decimal
    total_cost: Decimal
    gross_profit: Decimal
    gross_margin: float | None
    effective_hourly_rate: Decimal | None
    confidence: float | None
    needs_review: bool | None
    explanation: str | None
    review_status: str | None
    labor_hours: Decimal
    license_cost: Decimal
    other_cost: Decimal
    factors: Mapping[str, float | None] = field(default_factory=dict)


FACTORS = (
    "confidence_cost_completeness",
    "confidence_evidence_volume",
    "confidence_data_quality",
    "confidence_consistency",
    "confidence_coverage",
)


@dataclass(frozen=True)
class Totals:
    """Money summed over months; ratios recomputed from the sums (null as in metrics.md)."""

    months: int
    revenue: Decimal
    total_cost: Decimal
    gross_profit: Decimal
    gross_margin: Decimal | None
    effective_hourly_rate: Decimal | None
    lowest_confidence: float | None
    months_to_review: int


@dataclass(frozen=True)
class ClientSection:
    client_id: str
    client_name: str | None
    months: tuple[ClientMonth, ...]
    totals: Totals

    @property
    def title(self) -> str:
        return f"{self.client_name} ({self.client_id})" if self.client_name else self.client_id


@dataclass(frozen=True)
class ProfitabilityReport:
    context: ReportContext
    clients: tuple[ClientSection, ...]
    totals: Totals
    first_month: date | None
    last_month: date | None

    @property
    def row_count(self) -> int:
        return sum(len(c.months) for c in self.clients)


def _totals(months: Sequence[ClientMonth]) -> Totals:
    revenue = sum((m.revenue for m in months), ZERO)
    total_cost = sum((m.total_cost for m in months), ZERO)
    gross_profit = sum((m.gross_profit for m in months), ZERO)
    hours = sum((m.labor_hours for m in months), ZERO)
    pass_through = sum((m.license_cost + m.other_cost for m in months), ZERO)
    confidences = [m.confidence for m in months if m.confidence is not None]
    return Totals(
        months=len(months),
        revenue=revenue,
        total_cost=total_cost,
        gross_profit=gross_profit,
        gross_margin=gross_profit / revenue if revenue > 0 else None,
        effective_hourly_rate=(
            ((revenue - pass_through) / hours).quantize(_CENT, ROUND_HALF_UP) if hours else None
        ),
        lowest_confidence=min(confidences) if confidences else None,
        months_to_review=sum(1 for m in months if m.needs_review),
    )


def _client_month(row: Row) -> ClientMonth:
    return ClientMonth(
        month=row["month"],
        revenue=row["revenue"],
        total_cost=row["total_cost"],
        gross_profit=row["gross_profit"],
        gross_margin=row["gross_margin"],
        effective_hourly_rate=row["effective_hourly_rate"],
        confidence=row.get("confidence"),
        needs_review=row.get("needs_review"),
        explanation=fmt.printable(row.get("explanation"), fmt.EXPLANATION_LIMIT),
        review_status=row.get("review_status"),
        labor_hours=row["labor_hours"],
        license_cost=row["license_cost"],
        other_cost=row["other_cost"],
        factors={name: row.get(name) for name in FACTORS},
    )


def profitability_report(
    context: ReportContext, rows: Iterable[Row], names: Mapping[str, str | None] | None = None
) -> ProfitabilityReport:
    """Group client_profitability rows (sorted by client, month) into one section per client.

    A requested client without a row in the period still gets an (empty) section, so the
    reader sees it was asked for; `names` supplies its name when another period knows it.
    """
    grouped: dict[str, list[ClientMonth]] = {client_id: [] for client_id in context.client_ids}
    client_names: dict[str, str | None] = dict(names or {})
    for row in rows:
        grouped.setdefault(row["client_id"], []).append(_client_month(row))
        client_names[row["client_id"]] = row["client_name"] or client_names.get(row["client_id"])
    sections = tuple(
        ClientSection(
            fmt.printable(client_id, fmt.TEXT_LIMIT),
            fmt.printable(client_names.get(client_id), fmt.TEXT_LIMIT),
            tuple(months),
            _totals(months),
        )
        for client_id, months in grouped.items()
    )
    every_month = [m for section in sections for m in section.months]
    months = sorted({m.month for m in every_month})
    return ProfitabilityReport(
        context=context,
        clients=sections,
        totals=_totals(every_month),
        first_month=months[0] if months else None,
        last_month=months[-1] if months else None,
    )


@dataclass(frozen=True)
class LicenseLine:
    """One product of one vendor for one client in the report's month."""

    client_id: str
    client_name: str | None
    vendor: str | None
    product: str
    month: date
    # None where the row lacks the fact (a license assembled from vendor facts, metrics.md)
    seats_purchased: int | None
    seats_active: int | None
    unused_seats: int | None
    monthly_waste: Decimal | None
    unbilled_seats: int | None
    monthly_leakage: Decimal | None
    recommendation: str
    confidence: float | None
    needs_review: bool | None
    explanation: str | None
    renewal: date | None = None  # term_end_date: None when the export does not say

    @property
    def monthly_savings(self) -> Decimal:
        """Cost of unused seats plus price of unbilled ones (unknown waste or leakage counts 0)."""
        return (self.monthly_waste or ZERO) + (self.monthly_leakage or ZERO)


@dataclass(frozen=True)
class LicenseTotals:
    products: int
    unused_seats: int
    monthly_waste: Decimal
    unbilled_seats: int
    monthly_leakage: Decimal
    monthly_savings: Decimal
    to_review: int

    @property
    def annual_savings(self) -> Decimal:
        return self.monthly_savings * 12


@dataclass(frozen=True)
class LicenseSavingsReport:
    context: ReportContext
    month: date | None  # the month the seats are counted in; None: no license rows
    lines: tuple[LicenseLine, ...]
    totals: LicenseTotals
    clients_without_licenses: tuple[str, ...]


# The mart's recommendation codes as a report prints them.
RECOMMENDATIONS = {
    "true_up": "True up",
    "bill_client": "Bill client",
    "reclaim": "Reclaim",
    "ok": "No action",
}


def _license_line(row: Row, names: Mapping[str, str | None]) -> LicenseLine:
    return LicenseLine(
        client_id=fmt.printable(row["client_id"], fmt.TEXT_LIMIT),
        client_name=fmt.printable(names.get(row["client_id"]), fmt.TEXT_LIMIT),
        vendor=fmt.printable(row["vendor"], fmt.TEXT_LIMIT),
        product=fmt.printable(row["product"], fmt.TEXT_LIMIT),
        month=row["month"],
        seats_purchased=row["seats_purchased"],
        seats_active=row["seats_active"],
        unused_seats=row["unused_seats"],
        monthly_waste=row["monthly_waste"],
        unbilled_seats=row["unbilled_seats"],
        monthly_leakage=row["monthly_leakage"],
        recommendation=row["recommendation"],
        confidence=row.get("confidence"),
        needs_review=row.get("needs_review"),
        explanation=fmt.printable(row.get("explanation"), fmt.EXPLANATION_LIMIT),
        renewal=row.get("term_end_date"),
    )


def savings_order(line: LicenseLine) -> tuple[Decimal, str, str, str]:
    """Largest monthly savings first; ties by client, vendor, product (stable output)."""
    return (-line.monthly_savings, line.client_id, line.vendor or "", line.product)


def license_savings_report(
    context: ReportContext,
    month: date | None,
    rows: Iterable[Row],
    names: Mapping[str, str | None],
) -> LicenseSavingsReport:
    """license_utilization rows of one month, largest savings first, with totals."""
    lines = tuple(sorted((_license_line(row, names) for row in rows), key=savings_order))
    present = {line.client_id for line in lines}
    totals = LicenseTotals(
        products=len(lines),
        unused_seats=sum(line.unused_seats or 0 for line in lines),
        monthly_waste=sum((line.monthly_waste or ZERO for line in lines), ZERO),
        unbilled_seats=sum(line.unbilled_seats or 0 for line in lines),
        monthly_leakage=sum((line.monthly_leakage or ZERO for line in lines), ZERO),
        monthly_savings=sum((line.monthly_savings for line in lines), ZERO),
        to_review=sum(1 for line in lines if line.needs_review),
    )
    missing = tuple(
        c for c in context.client_ids if fmt.printable(c, fmt.TEXT_LIMIT) not in present
    )
    return LicenseSavingsReport(context, month, lines, totals, missing)
