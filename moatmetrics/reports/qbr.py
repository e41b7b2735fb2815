"""The client's version of the QBR report: what one client bought and used, for that client.

The internal reports (`model`) show the MSP's margins, costs and confidence; this one is
handed to the client, so it is built from the columns a client may see and nothing else:
what was invoiced (revenue, recurring revenue), the support hours delivered, how both moved
over the last six months and where they are heading (the client's own series of
marts.trends and marts.forecasts: slopes, forecasts and their ranges, never the sentences,
which are written for the MSP), and the client's licenses (seats, use, the price per seat the
client pays, renewal dates) with what to do about them. Costs, profit, margins, the MSP's
unit costs, confidence and the trust layer's explanations (they talk about margins) never
enter `ClientQbr`, so no renderer can print them. One client per report: its rows are read
with that client's id only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from moatmetrics.reports import formatting as fmt
from moatmetrics.reports.model import ZERO, ReportContext, Row


@dataclass(frozen=True)
class Branding:
    """The MSP as its clients know it (MOATMETRICS_COMPANY_NAME / _LOGO)."""

    company_name: str | None = None
    logo: bytes | None = None  # PNG or JPEG, checked by moatmetrics.settings.read_logo


@dataclass(frozen=True)
class ServiceMonth:
    """One month of services: what was invoiced and the support hours delivered."""

    month: date
    invoiced: Decimal
    recurring: Decimal
    support_hours: Decimal


@dataclass(frozen=True)
class OutlookMonth:
    """One month ahead: invoicing and support hours at the recent pace, each with its 80 %
    range (None where the forecast has none, or no forecast for want of history)."""

    month: date
    invoiced: Decimal | None
    invoiced_range: tuple[Decimal, Decimal] | None
    support_hours: Decimal | None
    hours_range: tuple[Decimal, Decimal] | None


@dataclass(frozen=True)
class Pace:
    """How invoicing or support hours moved over the six months to the report's last month."""

    measure: str  # "Invoicing" or "Support hours"
    month: date
    slope: Decimal | None  # per month, least squares over the 6 months (marts.trends)
    is_stable: bool  # the slope is under the documented threshold (docs/insights.md)
    unit: str  # money or hours

    @property
    def sentence(self) -> str:
        over = f"{self.measure} over the six months to {fmt.month(self.month)}"
        if self.slope is None:
            return f"{over}: too few months to tell a direction."
        if self.is_stable:
            return f"{over}: steady."
        amount = fmt.money(abs(self.slope))
        size = f"{amount} h" if self.unit == "hours" else amount
        return f"{over}: {'up' if self.slope > 0 else 'down'} {size} a month on average."


@dataclass(frozen=True)
class SeatLine:
    """One licensed product as the client sees it: seats, use, price, renewal, action."""

    vendor: str | None
    product: str
    # None where the row lacks the fact (a license assembled from vendor facts)
    seats_purchased: int | None
    seats_assigned: int | None
    seats_active: int | None
    unused_seats: int | None
    utilization_rate: float | None
    unit_price: Decimal | None
    renewal: date | None
    recommendation: str

    @property
    def action(self) -> str:
        """The mart's recommendation in the client's words (docs/reports.md)."""
        if self.recommendation == "true_up":
            if self.seats_assigned is None or self.seats_purchased is None:
                return "Add seats"
            return f"Add {self.seats_assigned - self.seats_purchased:,} seats"
        if self.recommendation == "reclaim":
            if self.unused_seats is None:
                return "Remove unused seats"
            return f"Remove {self.unused_seats:,} unused seats"
        if self.recommendation == "bill_client":
            return "Confirm seat count"
        return "No change"

    @property
    def unused_price(self) -> Decimal | None:
        """What the unused seats are billed per month (unknown without a price)."""
        if self.unit_price is None or self.unused_seats is None:
            return None
        return self.unused_seats * self.unit_price


@dataclass(frozen=True)
class ClientQbr:
    context: ReportContext
    branding: Branding
    client_id: str
    client_name: str | None
    months: tuple[ServiceMonth, ...]
    seats_month: date | None  # the month the seats are counted in; None: no license rows
    seats: tuple[SeatLine, ...]
    pace: tuple[Pace, ...] = ()  # invoicing and support hours, where the trends have them
    outlook_from: date | None = None  # the last complete month the outlook starts after
    outlook: tuple[OutlookMonth, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.client_name} ({self.client_id})" if self.client_name else self.client_id

    @property
    def first_month(self) -> date | None:
        return self.months[0].month if self.months else None

    @property
    def last_month(self) -> date | None:
        return self.months[-1].month if self.months else None

    @property
    def invoiced(self) -> Decimal:
        return sum((m.invoiced for m in self.months), ZERO)

    @property
    def recurring(self) -> Decimal:
        return sum((m.recurring for m in self.months), ZERO)

    @property
    def support_hours(self) -> Decimal:
        return sum((m.support_hours for m in self.months), ZERO)

    @property
    def possible_saving(self) -> Decimal:
        """Monthly price of the seats the report suggests removing (prices unknown count 0)."""
        return sum(
            (s.unused_price or ZERO for s in self.seats if s.recommendation == "reclaim"), ZERO
        )


def _seat_order(line: SeatLine) -> tuple[bool, date, str, str]:
    """Soonest renewal first (unknown last), then vendor and product."""
    return (line.renewal is None, line.renewal or date.max, line.vendor or "", line.product)


def client_qbr(
    context: ReportContext,
    branding: Branding,
    client_id: str,
    client_name: str | None,
    profitability_rows: Iterable[Row],
    seats_month: date | None,
    license_rows: Iterable[Row],
    trend_rows: Iterable[Row] = (),
    forecast_rows: Iterable[Row] = (),
) -> ClientQbr:
    """The QBR of one client from its client_profitability and license_utilization rows, and
    its revenue and labour-hour rows of marts.trends (the report's last month) and
    marts.forecasts."""
    months = tuple(
        ServiceMonth(row["month"], row["revenue"], row["recurring_revenue"], row["labor_hours"])
        for row in sorted(profitability_rows, key=lambda row: row["month"])
    )
    seats = tuple(
        sorted(
            (
                SeatLine(
                    vendor=fmt.printable(row["vendor"], fmt.TEXT_LIMIT),
                    product=fmt.printable(row["product"], fmt.TEXT_LIMIT),
                    seats_purchased=row["seats_purchased"],
                    seats_assigned=row["seats_assigned"],
                    seats_active=row["seats_active"],
                    unused_seats=row["unused_seats"],
                    utilization_rate=row["utilization_rate"],
                    unit_price=row["unit_price"],
                    renewal=row.get("term_end_date"),
                    recommendation=row["recommendation"],
                )
                for row in license_rows
            ),
            key=_seat_order,
        )
    )
    return ClientQbr(
        context=context,
        branding=branding,
        client_id=fmt.printable(client_id, fmt.TEXT_LIMIT),
        client_name=fmt.printable(client_name, fmt.TEXT_LIMIT),
        months=months,
        seats_month=seats_month,
        seats=seats,
        pace=_pace(trend_rows),
        **_outlook(forecast_rows),
    )


#: The client's words for the series the QBR shows (mart metric -> measure, unit).
_MEASURES = {"revenue": ("Invoicing", "money"), "labor_hours": ("Support hours", "hours")}


def _pace(trend_rows: Iterable[Row]) -> tuple[Pace, ...]:
    by_metric = {row["metric"]: row for row in trend_rows if row["metric"] in _MEASURES}
    return tuple(
        Pace(
            measure=_MEASURES[metric][0],
            month=row["month"],
            slope=row["slope_6m"],
            is_stable=row["direction"] == "stable",
            unit=_MEASURES[metric][1],
        )
        for metric in _MEASURES
        if (row := by_metric.get(metric)) is not None
    )


def _outlook(forecast_rows: Iterable[Row]) -> dict[str, Any]:
    """The forecast months, revenue and labour hours side by side."""
    rows = [row for row in forecast_rows if row["metric"] in _MEASURES]
    by_month: dict[date, dict[str, Row]] = {}
    for row in rows:  # six rows at most: three months of two series
        by_month.setdefault(row["forecast_month"], {})[row["metric"]] = row

    def value(row: Row | None) -> Decimal | None:
        return row["forecast"] if row and row["status"] == "forecast" else None

    def spread(row: Row | None) -> tuple[Decimal, Decimal] | None:
        if not row or row["lower_80"] is None or row["upper_80"] is None:
            return None
        return (row["lower_80"], row["upper_80"])

    outlook = tuple(
        OutlookMonth(
            month=month,
            invoiced=value(series.get("revenue")),
            invoiced_range=spread(series.get("revenue")),
            support_hours=value(series.get("labor_hours")),
            hours_range=spread(series.get("labor_hours")),
        )
        for month, series in sorted(by_month.items())
    )
    return {
        "outlook_from": rows[0]["origin_month"] if rows else None,
        "outlook": outlook
        if any(m.invoiced is not None or m.support_hours is not None for m in outlook)
        else (),
    }
