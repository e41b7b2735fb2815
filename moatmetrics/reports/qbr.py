"""The client's version of the QBR report: what one client bought and used, for that client.

The internal reports (`model`) show the MSP's margins, costs and confidence; this one is
handed to the client, so it is built from the columns a client may see and nothing else:
what was invoiced (revenue, recurring revenue), the support hours delivered, and the
client's licenses (seats, use, the price per seat the client pays, renewal dates) with what
to do about them. Costs, profit, margins, the MSP's unit costs, confidence and the trust
layer's explanations (they talk about margins) never enter `ClientQbr`, so no renderer can
print them. One client per report: its rows are read with that client's id only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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
) -> ClientQbr:
    """The QBR of one client from its client_profitability and license_utilization rows."""
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
    )
