"""The parameter parsing behind the mart endpoints, without a server (fast edge cases)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from api.mart_catalog import CLIENT_PROFITABILITY, LICENSE_UTILIZATION
from api.mart_queries import SortKey, build_query, parse_month, parse_sort
from api.problems import ProblemError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02", date(2024, 2, 1)),
        ("2024-02-29", date(2024, 2, 1)),
        (" 2023-12 ", date(2023, 12, 1)),
    ],
)
def test_parse_month(text: str, expected: date) -> None:
    assert parse_month(text) == expected


@pytest.mark.parametrize("text", ["2024", "2024-2", "2023-02-29", "2024-00", "24-01", "2024/01"])
def test_parse_month_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_month(text)


def test_parse_sort() -> None:
    assert parse_sort(CLIENT_PROFITABILITY, None) == ()
    assert parse_sort(LICENSE_UTILIZATION, " -monthly_waste , vendor,+month") == (
        SortKey("monthly_waste", True),
        SortKey("vendor"),
        SortKey("month"),
    )
    for bad in ("internal_note", "revenue DESC", '"revenue"', "-", "--revenue", "a,,b"):
        with pytest.raises(ProblemError) as caught:
            parse_sort(CLIENT_PROFITABILITY, bad)
        assert caught.value.problem.status == 422


def test_build_query_drops_empty_filters() -> None:
    query = build_query(
        CLIENT_PROFITABILITY, {"client_id": None}, "2024-01", None, None, limit=5, offset=0
    )
    assert query.filters == {} and query.month_from == date(2024, 1, 1)


def test_month_filters_use_the_marts_month_column_or_are_refused() -> None:
    from api.mart_catalog import CLIENT_RISK, FORECASTS
    from api.mart_queries import _where

    forecasts = build_query(FORECASTS, {}, "2026-10", "2026-12", None, 10, 0)
    assert _where(forecasts, "?") == (
        ' WHERE "forecast_month" >= ? AND "forecast_month" <= ?',
        [date(2026, 10, 1), date(2026, 12, 1)],
    )
    assert CLIENT_PROFITABILITY.month_column == CLIENT_RISK.month_column == "month"
    monthless = dataclasses.replace(CLIENT_RISK, month_column=None)  # a mart without months
    with pytest.raises(ProblemError) as caught:
        build_query(monthless, {}, "2026-10", None, None, 10, 0)
    assert caught.value.problem.status == 422
    assert "marts.client_risk has no month column" in caught.value.problem.detail
