"""What-if scenarios on one month of marts built by hand (moatmetrics.insights.scenarios): every
number below is worked out here from the marts' formulas (docs/metrics.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pandas as pd
import pytest

from moatmetrics.insights.scenarios import (
    AddTechnician,
    BillUnbilledSeats,
    MonthMarts,
    MoveHours,
    PriceChange,
    ReclaimUnusedSeats,
    RemoveTechnician,
    ScenarioRefused,
    evaluate,
)

SEP = date(2026, 9, 1)


def marts() -> MonthMarts:
    clients = pd.DataFrame.from_records(
        [
            # revenue, total_cost (labour 500 + licenses 300 + other 200), hours 10
            ("C1", "Acme", D("1000.00"), D("1000.00"), D("300.00"), D("200.00"), D("10.00"),
             D("0.00"), D("0.0000"), D("50.00")),
            ("C2", "Birch", D("2000.00"), D("1500.00"), D("100.00"), D("0.00"), D("20.00"),
             D("500.00"), D("0.2500"), D("95.00")),
        ],
        columns=["client_id", "client_name", "revenue", "total_cost", "license_cost",
                 "other_cost", "labor_hours", "gross_profit", "gross_margin",
                 "effective_hourly_rate"],
    )  # fmt: skip
    licenses = pd.DataFrame.from_records(
        [
            # 10 purchased, 6 active: 4 unused at 12.50 = 50.00 waste; 2 unbilled at 20 = 40.00
            ("C1", "Microsoft", "M365", 10, 6, 4, 2, D("50.00"), D("40.00")),
            # 3 unused at 10.00 = 30.00; 1 unbilled without a known price
            ("C1", "Acme AV", "Shield", 5, 2, 3, 1, D("30.00"), None),
            ("C2", "Microsoft", "M365", 8, 8, 0, 3, D("0.00"), D("75.00")),
        ],
        columns=["client_id", "vendor", "product", "seats_purchased", "seats_active",
                 "unused_seats", "unbilled_seats", "monthly_waste", "monthly_leakage"],
    )  # fmt: skip
    staff = pd.DataFrame.from_records(
        [
            ("S1", "Dana", D("160.00"), D("120.00"), D("0.7500"), D("0.00")),  # target 0.75
            ("S2", "Lee", D("160.00"), D("80.00"), D("0.5000"), D("40.00")),
            ("S9", None, None, D("5.00"), None, None),  # not in the staff file
        ],
        columns=["staff_id", "staff_name", "available_hours", "billable_hours", "utilization",
                 "capacity_gap_hours"],
    )  # fmt: skip
    return MonthMarts(SEP, 22, clients, licenses, staff)


def portfolio(result) -> dict[str, tuple]:
    return {m.name: (m.today, m.scenario) for m in result.portfolio}


def measures(outcome) -> dict[str, tuple]:
    return {m.name: (m.today, m.scenario) for m in outcome.measures}


def test_reclaim_and_bill_everything_saves_all_waste_and_leakage() -> None:
    result = evaluate(marts(), [ReclaimUnusedSeats(), BillUnbilledSeats()])
    totals = portfolio(result)
    assert totals["monthly_waste"] == (D("80.00"), D("0.00"))
    # Shield's unbilled seat has no price: it stays unbilled, and a note says so.
    assert totals["monthly_leakage"] == (D("115.00"), D("0.00"))
    assert result.notes == [
        "1 license rows with unbilled seats have no known price per seat and stay unbilled"
    ]
    assert totals["revenue"] == (D("3000.00"), D("3115.00"))  # + 40 + 75
    assert totals["total_cost"] == (D("2500.00"), D("2420.00"))  # - 50 - 30
    assert totals["gross_profit"] == (D("500.00"), D("695.00"))
    assert totals["gross_margin"] == (D("0.1667"), D("0.2231"))  # 695 / 3115 = 0.22311...
    acme = measures(result.clients[0])
    assert acme["revenue"] == (D("1000.00"), D("1040.00"))
    assert acme["total_cost"] == (D("1000.00"), D("920.00"))
    assert acme["gross_profit"] == (D("0.00"), D("120.00"))
    assert acme["gross_margin"] == (D("0.0000"), D("0.1154"))  # 120 / 1040 = 0.11538...
    # (1040 - (300 - 80) - 200) / 10 hours
    assert acme["effective_hourly_rate"] == (D("50.00"), D("62.00"))


def test_a_zero_price_change_changes_nothing_and_a_price_rise_scales_revenue() -> None:
    unchanged = evaluate(marts(), [PriceChange("C2", D("0"))])
    assert unchanged.clients == () and unchanged.staff == ()
    assert all(m.today == m.scenario for m in unchanged.portfolio)
    raised = evaluate(marts(), [PriceChange("C2", D("5"))])
    birch = measures(raised.clients[0])
    assert birch["revenue"] == (D("2000.00"), D("2100.00"))
    assert birch["gross_profit"] == (D("500.00"), D("600.00"))
    assert birch["gross_margin"] == (D("0.2500"), D("0.2857"))  # 600 / 2100 = 0.285714...
    assert birch["effective_hourly_rate"] == (D("95.00"), D("100.00"))  # (2100 - 100) / 20


def test_overlapping_changes_count_a_row_once() -> None:
    result = evaluate(
        marts(),
        [ReclaimUnusedSeats(client_id="C1"), ReclaimUnusedSeats(vendor="Microsoft"),
         ReclaimUnusedSeats(product="M365")],
    )  # fmt: skip
    assert portfolio(result)["monthly_waste"] == (D("80.00"), D("0.00"))
    assert [c.key for c in result.clients] == ["C1"]  # Birch's M365 row has no unused seat


def test_moving_hours_and_changing_the_team() -> None:
    result = evaluate(
        marts(),
        [MoveHours("S1", "S2", D("20")), RemoveTechnician("S2"),
         AddTechnician("New hire", D("40"), D("0.75"), D("30.00"))],
    )  # fmt: skip
    dana, lee = (measures(o) for o in result.staff)
    assert dana["billable_hours"] == (D("120.00"), D("100.00"))
    assert dana["utilization"] == (D("0.7500"), D("0.6250"))
    assert dana["capacity_gap_hours"] == (D("0.00"), D("20.00"))
    assert lee["billable_hours"] == (D("80.00"), D("100.00"))
    assert lee["available_hours"] == (D("160.00"), D("0.00"))
    assert lee["utilization"] == (D("0.5000"), None)
    totals = portfolio(result)
    # Team: 320 h today; Lee leaves (-160), the new hire brings 40 / 5 x 22 = 176 h.
    assert totals["available_hours"] == (D("320.00"), D("336.00"))
    assert totals["billable_hours"] == (D("205.00"), D("205.00"))  # S9's 5 h included
    assert totals["utilization"] == (D("0.6406"), D("0.6101"))  # 205 / 320, 205 / 336
    # Gap: Dana 20 (after the move), the new hire 176 x 0.75 = 132.
    assert totals["capacity_gap_hours"] == (D("40.00"), D("152.00"))
    # The new hire's cost: 176 h x 30.00.
    assert totals["total_cost"] == (D("2500.00"), D("7780.00"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (PriceChange("C7", D("5")), "client 'C7' has no row in 2026-09-01"),
        (MoveHours("S1", "S2", D("121")), "'S1' has 120.00 billable hours"),
        (MoveHours("S1", "S1", D("1")), "from 'S1' to itself"),
        (RemoveTechnician("S7"), "staff member 'S7' has no row"),
        (BillUnbilledSeats(client_id="C7"), "client 'C7' has no row"),
    ],
)
def test_a_change_that_cannot_apply_is_refused_with_the_reason(change, message) -> None:
    with pytest.raises(ScenarioRefused, match=message):
        evaluate(marts(), [change])


def test_two_price_changes_for_one_client_are_refused() -> None:
    with pytest.raises(ScenarioRefused, match="two price changes"):
        evaluate(marts(), [PriceChange("C1", D("1")), PriceChange("C1", D("2"))])
