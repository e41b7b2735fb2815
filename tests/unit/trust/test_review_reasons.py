"""Why a row is flagged: the two review kinds, the weakest factor and the money at stake."""

from __future__ import annotations

import pytest

from moatmetrics.trust import review_reasons as rr

CLEAN = {
    "confidence_cost_completeness": 1.0,
    "confidence_evidence_volume": 0.9,
    "confidence_data_quality": 1.0,
    "confidence_consistency": 1.0,
    "confidence_coverage": 1.0,
}


def test_an_unusual_month_is_flagged_by_consistency_alone() -> None:
    factors = {**CLEAN, "confidence_consistency": 0.01}
    assert rr.reason_kind(factors, 0.7) == rr.UNUSUAL_MONTH
    assert rr.weakest_factor(factors) == "consistency"
    assert rr.reason("client_profitability", rr.UNUSUAL_MONTH, factors).startswith(
        "Unusual month: the numbers are far from the previous six months of the client"
    )


def test_doubtful_data_names_the_weakest_input_factor_even_when_the_month_is_unusual_too() -> None:
    factors = {**CLEAN, "confidence_cost_completeness": 0.41, "confidence_consistency": 0.2}
    assert rr.reason_kind(factors, 0.7) == rr.DOUBTFUL_DATA
    assert rr.weakest_factor(factors) == "consistency"  # overall weakest
    assert rr.reason("client_profitability", rr.DOUBTFUL_DATA, factors) == (
        "Doubtful data: cost completeness is 41 % because some labour hours have no known "
        "staff cost; the month is also unusual for the client."
    )


def test_the_weakest_factor_counts_evidence_volume_at_half_weight() -> None:
    # 0.5 ** 0.5 = 0.71 is weaker than coverage 0.75, 0.6 ** 0.5 = 0.77 is not.
    assert (
        rr.weakest_factor({**CLEAN, "confidence_evidence_volume": 0.5, "confidence_coverage": 0.75})
        == "evidence_volume"
    )  # noqa: E501
    assert (
        rr.weakest_factor({**CLEAN, "confidence_evidence_volume": 0.6, "confidence_coverage": 0.75})
        == "coverage"
    )  # noqa: E501


def test_the_kind_follows_the_threshold() -> None:
    factors = {**CLEAN, "confidence_coverage": 0.8, "confidence_consistency": 0.5}
    without = 0.8 * 0.9**0.5  # 0.759
    assert rr.reason_kind(factors, 0.75) == rr.UNUSUAL_MONTH
    assert rr.reason_kind(factors, round(without + 0.01, 2)) == rr.DOUBTFUL_DATA


@pytest.mark.parametrize(
    ("mart", "row", "expected"),
    [
        ("client_profitability", {"revenue": 20000.0, "total_cost": 9000.0}, 20000.0),
        ("client_profitability", {"revenue": 0.0, "total_cost": 1234.5}, 1234.5),
        ("client_profitability", {"revenue": None, "total_cost": None}, None),
        ("license_utilization", {"monthly_waste": 96.0, "monthly_leakage": 40.0}, 136.0),
        ("license_utilization", {"monthly_waste": 96.0, "monthly_leakage": None}, 96.0),
        ("staff_utilization", {"logged_hours": 180.0}, None),
    ],
)
def test_money_at_stake(mart: str, row: dict, expected: float | None) -> None:
    assert rr.money_at_stake(mart, row) == expected
