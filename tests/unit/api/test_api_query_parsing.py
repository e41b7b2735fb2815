"""The parameter parsing behind the mart endpoints, without a server (fast edge cases)."""

from __future__ import annotations

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
