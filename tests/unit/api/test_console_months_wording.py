"""Which month a page shows, the partial-month note, and mart codes in words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from api.console.wording import missing_data, recommendation
from api.periods import DataMonth, last_complete_month, partial_note, selected_month
from api.problems import ProblemError
from moatmetrics.trust.tables import FACTORS

MONTHS = [
    DataMonth(date(2026, 8, 1), True),
    DataMonth(date(2026, 9, 1), True),
    DataMonth(
        date(2026, 10, 1),
        False,
        reported=("time entries",),
        missing=("invoices", "license snapshots", "expenses"),
        short=("time entries",),
        time_entries=10,
        usual_time_entries=Decimal("1200.00"),
    ),
]


def test_default_is_the_last_complete_month_and_any_month_can_be_chosen() -> None:
    assert last_complete_month(MONTHS) == date(2026, 9, 1)
    assert selected_month(MONTHS, None) == date(2026, 9, 1)
    assert selected_month(MONTHS, "") == date(2026, 9, 1)
    assert selected_month(MONTHS, "2026-10") == date(2026, 10, 1)
    assert last_complete_month([]) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "is not a month"),
        ("2026-9", "is not a month"),
        ("september", "is not a month"),
        ("2025-01", "no data for 2025-01; the data covers 2026-08 to 2026-10"),
    ],
)
def test_a_bad_month_is_a_422_naming_the_fix(text: str, message: str) -> None:
    with pytest.raises(ProblemError) as raised:
        selected_month(MONTHS, text)
    problem = raised.value.problem
    assert problem.status == 422 and message in (problem.detail or "")


def test_partial_note_says_what_arrived_what_is_missing_and_what_is_shown() -> None:
    assert partial_note(MONTHS, date(2026, 9, 1)) == (
        "October 2026 is partial: only time entries so far (10 time entries, 1 % of a usual "
        "month); invoices, license snapshots and expenses have not arrived. "
        "Showing September 2026."
    )
    assert partial_note(MONTHS, date(2026, 10, 1)).endswith("have not arrived.")
    assert partial_note(MONTHS[:2], date(2026, 9, 1)) is None


def _license(code: str, **values: int | str) -> dict:
    row = {"recommendation": code, "unused_seats": 0, "unbilled_seats": 0, "monthly_waste": 0,
           "monthly_leakage": 0, "seats_assigned": 10, "seats_purchased": 10}  # fmt: skip
    return {**row, **values}


def test_recommendations_are_actions_with_their_money() -> None:
    assert (
        recommendation(_license("reclaim", unused_seats=3, monthly_waste="54.00"))
        == "Reclaim 3 unused seats: $54/month"
    )
    assert (
        recommendation(_license("bill_client", unbilled_seats=1, monthly_leakage="22.00"))
        == "Bill the client for 1 unbilled seat: $22/month"
    )
    assert (
        recommendation(_license("true_up", seats_assigned=12))
        == "True up: 2 seats assigned beyond those bought; buy or unassign them"
    )
    assert (
        recommendation(_license("ok", unused_seats=2, monthly_waste="178.00"))
        == "Keep as headroom: 2 unused seats, $178/month"
    )
    assert recommendation(_license("ok")) == "Nothing to do: seats match use"


def test_missing_data_names_hours_without_invoices_else_the_weakest_factor() -> None:
    factors = {f"confidence_{name}": 1.0 for name in FACTORS}
    assert (
        missing_data({"revenue": 0, "labor_hours": Decimal("12.5"), **factors})
        == "no invoices this month although 12.5 hours were logged"
    )
    weak = {**factors, "confidence_coverage": 0.5, "confidence_consistency": 0.8}
    assert missing_data({"revenue": 100, "labor_hours": 3, **weak}).startswith("license snapshots")
    assert missing_data({"revenue": 100, "labor_hours": 3, **factors}) == "low confidence"
