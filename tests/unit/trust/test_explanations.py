"""Explanation sentences and drivers on constructed data: exact text, exact arithmetic."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from trust_support import ClientMonth, client_scores, foreign_numbers, last_month

from moatmetrics.trust import scoring


def explain(mart: str, evidence: pd.DataFrame) -> pd.DataFrame:
    """The explanation stages alone, run by DuckDB over a stated evidence frame."""
    with duckdb.connect() as con:
        con.register("evidence_frame", evidence.assign(month=pd.to_datetime(evidence["month"])))
        return scoring.score(con, mart, 0.7, "evidence_frame", rate=False)


FLAT = [ClientMonth(revenue=1000, hours=20) for _ in range(3)]  # labour 500: margin 50%


def test_labour_doubling_on_flat_revenue_is_named_with_the_unknown_hours() -> None:
    # 40 hours, 6 without a known cost: labour cost 34 x 25 = 850, margin 15%.
    months = [*FLAT, ClientMonth(revenue=1000, hours=40, unknown_hours=6, entries=40)]
    scores = client_scores(("C1", months), ("C2", [ClientMonth(revenue=2000, hours=20)] * 4))
    row = last_month(scores, "C1")
    assert row["explanation"] == (
        "Margin fell to 15% from a 3-month average of 50%: labour cost rose 70% (+20.0 h)"
        " while revenue held steady (0%); 6.0 of 40.0 hours have no known staff cost."
        " Portfolio median margin 45% across 2 clients; labour takes 85% of revenue against a"
        " median of 55%."
    )
    drivers = json.loads(row["drivers"])
    trailing = drivers["trailing_3m"]
    assert trailing["summary"]["gross_margin"] == 0.5 and trailing["summary"]["months"] == 3
    assert trailing["change"]["labor_hours"] == 20.0
    contributions = trailing["margin_contributions"]
    assert contributions == {
        "revenue": 0.0, "labor_cost": -0.35, "license_cost": 0.0, "other_cost": 0.0
    }  # fmt: skip
    assert sum(contributions.values()) == pytest.approx(0.15 - 0.5)
    assert drivers["portfolio"]["median"] == {
        "clients": 2, "gross_margin": 0.45, "effective_hourly_rate": 62.5
    }  # fmt: skip
    assert foreign_numbers(row.to_dict()) == []


def test_contributions_split_a_margin_change_exactly() -> None:
    months = [
        ClientMonth(revenue=1000, hours=10),
        ClientMonth(revenue=1200, hours=14),
        ClientMonth(revenue=900, hours=12),
        ClientMonth(revenue=1500, hours=30, unknown_hours=2),
    ]
    row = last_month(client_scores(("C1", months)), "C1")
    trailing = json.loads(row["drivers"])["trailing_3m"]
    change = sum(trailing["margin_contributions"].values())
    assert change == pytest.approx(row["gross_margin"] - trailing["summary"]["gross_margin"],
                                   abs=5e-4)  # fmt: skip
    assert row["explanation"].startswith("Margin fell to 53% from a 3-month average of 71%:")
    assert foreign_numbers(row.to_dict()) == []


def test_first_month_and_no_revenue_say_so() -> None:
    scores = client_scores(("C1", [ClientMonth(revenue=800, hours=8), ClientMonth(revenue=0)]))
    first, second = scores["explanation"].tolist()
    assert first.startswith("Margin 75% in the client's first month on record.")
    assert second == "No revenue this month against $500 of costs."
    assert json.loads(scores["drivers"].iloc[0])["trailing_3m"] is None


def test_staff_and_license_sentences_name_the_ratio_driver() -> None:
    staff = pd.DataFrame(
        {
            "staff_id": ["S1"], "month": ["2025-04-01"], "available_hours": [160.0],
            "logged_hours": [150.0], "billable_hours": [96.0], "utilization": [0.6],
            "overtime_hours": [0.0], "billable_target": [0.75], "history_months": [3.0],
            "avg_logged_hours": [150.0], "avg_billable_hours": [128.0],
            "avg_available_hours": [160.0], "portfolio_staff": [4.0],
            "median_utilization": [0.72],
        }
    )  # fmt: skip
    out = explain("staff_utilization", staff)
    assert out["explanation"][0] == (
        "Utilization 60% against a target of 75%, down from a 3-month average of 80%: billable"
        " hours fell 25% (-32.0 h). Team median utilization 72% across 4 staff."
    )
    seats = pd.DataFrame(
        {
            "client_id": ["C1"], "vendor": ["V"], "product": ["P"], "month": ["2025-04-01"],
            "seats_purchased": [20.0], "seats_active": [12.0], "seats_billed": [20.0],
            "unit_price": [10.0], "utilization_rate": [0.6], "unused_seats": [8.0],
            "monthly_waste": [96.0], "unbilled_seats": [0.0], "monthly_leakage": [0.0],
            "history_months": [3.0], "avg_seats_active": [16.0], "avg_seats_purchased": [20.0],
            "portfolio_clients": [14.0], "median_utilization_rate": [0.75],
        }
    )  # fmt: skip
    out = explain("license_utilization", seats)
    assert out["explanation"][0] == (
        "12 of 20 seats active (60%), down from a 3-month average of 80%: active seats fell by"
        " 4.0; $96 a month on 8 unused seats. Median utilization of this product across 14"
        " clients: 75%."
    )
    for explained in (explain("staff_utilization", staff), out):
        assert foreign_numbers(explained.iloc[0].to_dict()) == []
