"""What-if scenarios: a list of changes, and the marts' numbers they would give (issue 16, 4).

An owner asks "what if I raise Acme's price 5 %, reclaim the unused Microsoft 365 seats and
bill the unbilled ones, move 20 hours from Dana to Lee, hire a technician?". A scenario answers
from one month of the published marts (the last complete month by default), without writing
anything: each change adjusts the inputs the mart formulas read, and the marts' own formulas
(docs/metrics.md) recompute the rest, per client, per staff member and for the portfolio:

- ``price``: the client's revenue of the month x (1 + percent / 100);
- ``reclaim_unused_seats``: matching license rows drop their unused seats (seats purchased
  fall to the seats in use): the waste is saved from the client's license cost;
- ``bill_unbilled_seats``: matching license rows bill their unbilled seats at the seat's
  price: the leakage becomes revenue (a row without a known price cannot be billed; counted);
- ``move_hours``: billable hours move from one staff member to another (utilisation and
  capacity gap of both; client costs stay as they are, since the snapshot has no per-person
  cost);
- ``add_technician``: a new person's available hours (weekly hours / 5 x the month's working
  days) join the team's capacity, their cost (hourly cost x those hours) the portfolio's cost;
- ``remove_technician``: a person's available hours leave the team's capacity; their billable
  hours stay as work the team must do.

Every change is measured against today's numbers and the effects add up (two license changes
that match one row count it once), so their order does not matter. A client, staff member or
license row that no change touches keeps today's numbers exactly, so a price change of 0 %
changes nothing. Money is computed in integer cents and hours in hundredths, and ratios are
rounded half away from zero to the marts' places, so totals agree to the cent with the marts.
The reading and the shaping of the answer live in the API (`api/scenario_reads.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas loads on the first what-if, not with the API
    import pandas as pd

CENT = Decimal("0.01")


class ScenarioRefused(ValueError):
    """A change that cannot apply to the month's marts (the message says which and why)."""


@dataclass(frozen=True)
class PriceChange:
    client_id: str
    percent: Decimal


@dataclass(frozen=True)
class ReclaimUnusedSeats:
    client_id: str | None = None
    vendor: str | None = None
    product: str | None = None


@dataclass(frozen=True)
class BillUnbilledSeats:
    client_id: str | None = None
    vendor: str | None = None
    product: str | None = None


@dataclass(frozen=True)
class MoveHours:
    from_staff_id: str
    to_staff_id: str
    hours: Decimal


@dataclass(frozen=True)
class AddTechnician:
    name: str
    weekly_hours: Decimal
    billable_target: Decimal
    hourly_cost: Decimal


@dataclass(frozen=True)
class RemoveTechnician:
    staff_id: str


Change = (
    PriceChange | ReclaimUnusedSeats | BillUnbilledSeats | MoveHours | AddTechnician
    | RemoveTechnician
)  # fmt: skip

#: Columns each frame must carry (one month of the published marts).
CLIENT_COLUMNS = (
    "client_id", "client_name", "revenue", "total_cost", "license_cost", "other_cost",
    "labor_hours", "gross_profit", "gross_margin", "effective_hourly_rate",
)  # fmt: skip
LICENSE_COLUMNS = (
    "client_id", "vendor", "product", "seats_purchased", "seats_active", "unused_seats",
    "unbilled_seats", "monthly_waste", "monthly_leakage",
)  # fmt: skip
STAFF_COLUMNS = (
    "staff_id", "staff_name", "available_hours", "billable_hours", "utilization",
    "capacity_gap_hours",
)  # fmt: skip


@dataclass(frozen=True)
class MonthMarts:
    """One month of the marts a scenario reads (money and hours as Decimal, 2 places)."""

    month: date
    working_days: int  # Monday to Friday in the month (a new technician's contract)
    clients: pd.DataFrame
    licenses: pd.DataFrame
    staff: pd.DataFrame


def _exact(value: object) -> Decimal | None:
    """A mart value as an exact decimal (older snapshots hold ratios as doubles); NULL, NaN
    and infinities (a careless division upstream) as None."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number if number.is_finite() else None


@dataclass(frozen=True)
class Measure:
    name: str
    today: Decimal | None
    scenario: Decimal | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "today", _exact(self.today))
        object.__setattr__(self, "scenario", _exact(self.scenario))

    @property
    def change(self) -> Decimal | None:
        if self.today is None or self.scenario is None:
            return None
        return self.scenario - self.today


@dataclass(frozen=True)
class Outcome:
    """One client's or staff member's numbers today and in the scenario."""

    key: str
    name: str | None
    measures: tuple[Measure, ...]


@dataclass
class ScenarioResult:
    month: date
    portfolio: tuple[Measure, ...]
    clients: tuple[Outcome, ...]  # the clients the scenario changes
    staff: tuple[Outcome, ...]  # the staff members it changes
    notes: list[str] = field(default_factory=list)


def _cents(values: pd.Series) -> np.ndarray:
    """Amounts of 2 places (Decimal or None) as int64 hundredths, None as 0 (the callers keep
    the null mask where it matters). Exact: such amounts are far below 2**53 hundredths."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce").astype(float).fillna(0.0).to_numpy()
    cents: np.ndarray = np.rint(numbers * 100).astype(np.int64)
    return cents


def _ratio(numerator: np.ndarray, denominator: np.ndarray, places: int) -> np.ndarray:
    """numerator / denominator to `places` decimals, half away from zero, as int64 units of
    10**-places (exact integer arithmetic, as the marts' `divide_and_round`)."""
    scale = 10**places
    safe = np.where(denominator == 0, 1, denominator)
    sign = np.sign(numerator) * np.sign(safe)
    magnitude = (2 * np.abs(numerator) * scale + np.abs(safe)) // (2 * np.abs(safe))
    result: np.ndarray = sign * magnitude
    return result


def _decimal(units: int, places: int = 2) -> Decimal:
    return Decimal(int(units)).scaleb(-places)


def _matches(frame: pd.DataFrame, change: ReclaimUnusedSeats | BillUnbilledSeats) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column in ("client_id", "vendor", "product"):
        wanted = getattr(change, column)
        if wanted is not None:
            mask &= (frame[column] == wanted).to_numpy()
    return mask


def evaluate(marts: MonthMarts, changes: list[Change]) -> ScenarioResult:
    """The month's numbers under `changes`, beside today's (nothing is written)."""
    clients, licenses, staff = marts.clients, marts.licenses, marts.staff
    notes: list[str] = []
    client_index = {cid: i for i, cid in enumerate(clients["client_id"])}
    staff_index = {sid: i for i, sid in enumerate(staff["staff_id"])}

    # License rows: reclaimed and billed flags (a row matched twice counts once).
    reclaimed = np.zeros(len(licenses), dtype=bool)
    billed = np.zeros(len(licenses), dtype=bool)
    for change in changes:
        if isinstance(change, ReclaimUnusedSeats | BillUnbilledSeats):
            matched = _matches(licenses, change)
            if change.client_id is not None and change.client_id not in client_index:
                raise ScenarioRefused(f"client {change.client_id!r} has no row in {marts.month}")
            if isinstance(change, ReclaimUnusedSeats):
                reclaimed |= matched & (licenses["unused_seats"].fillna(0) > 0).to_numpy()
            else:
                unbilled = (licenses["unbilled_seats"].fillna(0) > 0).to_numpy()
                priced = licenses["monthly_leakage"].notna().to_numpy()
                unpriced = int((matched & unbilled & ~priced).sum())
                if unpriced:
                    notes.append(f"{unpriced} license rows with unbilled seats have no known "
                                 "price per seat and stay unbilled")  # fmt: skip
                billed |= matched & unbilled & priced
    waste = _cents(licenses["monthly_waste"])
    leakage = _cents(licenses["monthly_leakage"])
    owner = licenses["client_id"].map(client_index).fillna(-1).to_numpy(dtype=np.int64)
    n = len(clients)
    saved = np.bincount(owner[reclaimed], weights=waste[reclaimed], minlength=n + 1)[:n]
    billed_cents = np.bincount(owner[billed], weights=leakage[billed], minlength=n + 1)[:n]
    saved, billed_cents = saved.astype(np.int64), billed_cents.astype(np.int64)

    revenue = _cents(clients["revenue"])
    price_delta = np.zeros(n, dtype=np.int64)
    priced_clients: set[str] = set()
    for change in changes:
        if isinstance(change, PriceChange):
            if change.client_id not in client_index:
                raise ScenarioRefused(f"client {change.client_id!r} has no row in {marts.month}")
            if change.client_id in priced_clients:
                raise ScenarioRefused(f"client {change.client_id!r} has two price changes")
            priced_clients.add(change.client_id)
            i = client_index[change.client_id]
            delta = (Decimal(int(revenue[i])) * change.percent / 100).quantize(Decimal(1))
            price_delta[i] = int(delta)

    touched = (saved != 0) | (billed_cents != 0) | (price_delta != 0)
    client_rows = _client_outcomes(clients, touched, revenue, price_delta + billed_cents, saved)

    staff_rows, team = _staff_outcomes(marts, changes, staff_index)
    portfolio = _portfolio(clients, licenses, revenue, price_delta + billed_cents, saved,
                           waste, leakage, reclaimed, billed, team)  # fmt: skip
    return ScenarioResult(marts.month, portfolio, client_rows, staff_rows, notes)


def _client_outcomes(
    clients: pd.DataFrame, touched: np.ndarray, revenue: np.ndarray, revenue_delta: np.ndarray,
    saved: np.ndarray,
) -> tuple[Outcome, ...]:  # fmt: skip
    cost = _cents(clients["total_cost"])
    license_cost = _cents(clients["license_cost"])
    other = _cents(clients["other_cost"])
    hours = _cents(clients["labor_hours"])
    new_revenue = revenue + revenue_delta
    new_cost = cost - saved
    profit = new_revenue - new_cost
    margin = _ratio(profit, new_revenue, 4)
    rate = _ratio(new_revenue - (license_cost - saved) - other, hours, 2)
    out = []
    for i in np.flatnonzero(touched):  # the changed clients only: a handful
        row = clients.iloc[i]
        out.append(Outcome(str(row["client_id"]), row["client_name"], (
            Measure("revenue", row["revenue"], _decimal(new_revenue[i])),
            Measure("total_cost", row["total_cost"], _decimal(new_cost[i])),
            Measure("gross_profit", row["gross_profit"], _decimal(profit[i])),
            Measure("gross_margin", row["gross_margin"],
                    _decimal(margin[i], 4) if new_revenue[i] > 0 else None),
            Measure("effective_hourly_rate", row["effective_hourly_rate"],
                    _decimal(rate[i]) if hours[i] != 0 else None),
        )))  # fmt: skip
    return tuple(out)


@dataclass(frozen=True)
class _Team:
    available: tuple[int, int]  # hundredths of an hour, today and in the scenario
    billable: tuple[int, int]
    capacity_gap: tuple[int, int]
    added_cost: int  # cents: new technicians' cost


def _staff_outcomes(
    marts: MonthMarts, changes: list[Change], staff_index: dict[str, int]
) -> tuple[tuple[Outcome, ...], _Team]:
    staff = marts.staff
    available = _cents(staff["available_hours"])
    billable = _cents(staff["billable_hours"])
    gap = _cents(staff["capacity_gap_hours"])
    known = staff["available_hours"].notna().to_numpy()
    new_available, new_billable, new_gap = available.copy(), billable.copy(), gap.copy()
    removed = np.zeros(len(staff), dtype=bool)
    added_available = added_gap = added_cost = 0
    for change in changes:
        if isinstance(change, MoveHours):
            for sid in (change.from_staff_id, change.to_staff_id):
                if sid not in staff_index:
                    raise ScenarioRefused(f"staff member {sid!r} has no row in {marts.month}")
            if change.from_staff_id == change.to_staff_id:
                raise ScenarioRefused(f"move_hours from {change.from_staff_id!r} to itself")
            moved = int(change.hours * 100)
            source, target = staff_index[change.from_staff_id], staff_index[change.to_staff_id]
            if moved > new_billable[source]:
                raise ScenarioRefused(
                    f"{change.from_staff_id!r} has {_decimal(new_billable[source])} billable "
                    f"hours in {marts.month}; cannot move {change.hours}"
                )
            new_billable[source] -= moved
            new_gap[source] += moved
            new_billable[target] += moved
            new_gap[target] -= moved
        elif isinstance(change, RemoveTechnician):
            if change.staff_id not in staff_index:
                raise ScenarioRefused(f"staff member {change.staff_id!r} has no row in "
                                      f"{marts.month}")  # fmt: skip
            removed[staff_index[change.staff_id]] = True
        elif isinstance(change, AddTechnician):
            contracted = int(
                (change.weekly_hours / 5 * marts.working_days * 100).quantize(Decimal(1))
            )
            added_available += contracted
            added_gap += int((Decimal(contracted) * change.billable_target).quantize(Decimal(1)))
            added_cost += int((Decimal(contracted) * change.hourly_cost).quantize(Decimal(1)))
    utilization = _ratio(new_billable, np.where(known, available, 0), 4)
    changed = (new_billable != billable) | removed
    out = []
    for i in np.flatnonzero(changed):  # the changed staff only: a handful
        row = staff.iloc[i]
        gone = bool(removed[i])
        out.append(Outcome(str(row["staff_id"]), row["staff_name"], (
            Measure("available_hours", row["available_hours"],
                    Decimal(0).quantize(CENT) if gone else row["available_hours"]),
            Measure("billable_hours", row["billable_hours"], _decimal(new_billable[i])),
            Measure("utilization", row["utilization"], None if gone or not known[i]
                    or available[i] == 0 else _decimal(utilization[i], 4)),
            Measure("capacity_gap_hours", row["capacity_gap_hours"],
                    None if gone or row["capacity_gap_hours"] is None
                    else _decimal(new_gap[i])),
        )))  # fmt: skip
    staying = known & ~removed
    team = _Team(
        available=(
            int(available[known].sum()),
            int(new_available[staying].sum()) + added_available,
        ),
        billable=(int(billable.sum()), int(new_billable.sum())),
        capacity_gap=(int(gap[known].sum()), int(new_gap[staying].sum()) + added_gap),
        added_cost=added_cost,
    )
    return tuple(out), team


def _portfolio(
    clients: pd.DataFrame, licenses: pd.DataFrame, revenue: np.ndarray,
    revenue_delta: np.ndarray, saved: np.ndarray, waste: np.ndarray, leakage: np.ndarray,
    reclaimed: np.ndarray, billed: np.ndarray, team: _Team,
) -> tuple[Measure, ...]:  # fmt: skip
    cost = _cents(clients["total_cost"])
    totals = {
        "revenue": (int(revenue.sum()), int((revenue + revenue_delta).sum())),
        "total_cost": (int(cost.sum()), int((cost - saved).sum()) + team.added_cost),
    }
    totals["gross_profit"] = (
        totals["revenue"][0] - totals["total_cost"][0],
        totals["revenue"][1] - totals["total_cost"][1],
    )
    margin = [
        _decimal(int(_ratio(np.array([p]), np.array([r]), 4)[0]), 4) if r > 0 else None
        for p, r in zip(totals["gross_profit"], totals["revenue"], strict=True)
    ]
    utilization = [
        _decimal(int(_ratio(np.array([b]), np.array([a]), 4)[0]), 4) if a > 0 else None
        for b, a in zip(team.billable, team.available, strict=True)
    ]
    measures = [Measure(name, _decimal(t), _decimal(s)) for name, (t, s) in totals.items()]
    measures.append(Measure("gross_margin", margin[0], margin[1]))
    measures += [
        Measure("monthly_waste", _decimal(int(waste.sum())),
                _decimal(int(waste.sum() - waste[reclaimed].sum()))),
        Measure("monthly_leakage", _decimal(int(leakage.sum())),
                _decimal(int(leakage.sum() - leakage[billed].sum()))),
        Measure("available_hours", _decimal(team.available[0]), _decimal(team.available[1])),
        Measure("billable_hours", _decimal(team.billable[0]), _decimal(team.billable[1])),
        Measure("utilization", utilization[0], utilization[1]),
        Measure("capacity_gap_hours", _decimal(team.capacity_gap[0]),
                _decimal(team.capacity_gap[1])),
    ]  # fmt: skip
    return tuple(measures)
