"""Forecasts on a warehouse built by hand (moatmetrics.insights.forecasts): levels, backtest
errors, MASE, intervals, confidence, capacity and the team's shortfall, each worked out here.

September 2026 is the last complete month (October is still arriving), so the forecasts are
for October (22 working days), November (21) and December 2026 (23).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pytest

from moatmetrics.insights.forecasts import FORECAST_COLUMNS, run_forecasts

SEP, OCT, NOV, DEC = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
#: Oct 2024 .. Sep 2026, the 24 complete months.
MONTHS = [date(2024 + (9 + k) // 12, (9 + k) % 12 + 1, 1) for k in range(24)]


def working_days(month: date) -> int:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return int(np.busday_count(month, following))


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("marts", "intermediate"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE marts.month_completeness (month DATE, is_complete BOOLEAN);"
        "CREATE TABLE marts.client_profitability (client_id VARCHAR, client_name VARCHAR,"
        " month DATE, revenue DECIMAL(18, 2), labor_hours DECIMAL(18, 2));"
        "CREATE TABLE marts.staff_utilization (staff_id VARCHAR, staff_name VARCHAR,"
        " month DATE, available_hours DECIMAL(18, 2), billable_hours DECIMAL(18, 2));"
        "CREATE TABLE intermediate.int_staff_members_corrected (staff_id VARCHAR,"
        " weekly_hours DECIMAL(18, 4), billable_target DECIMAL(18, 4), start_date DATE,"
        " end_date DATE)"
    )
    con.executemany(
        "INSERT INTO marts.month_completeness VALUES (?, ?)",
        [*((m, True) for m in MONTHS), (OCT, False)],
    )
    clients = [
        # Acme: 2 h every working day for two years, 1,000 a month: forecast exactly, so
        # every backtest error is 0 (MASE 0, confidence 1, an interval of width 0).
        *[("C1", "Acme", m, 1000, 2 * working_days(m)) for m in MONTHS],
        # Birch: from February 2026, revenue 100, 200, 100, ... (hours 10 a month).
        *[("C2", "Birch", MONTHS[16 + k], 100 if k % 2 == 0 else 200, 10) for k in range(8)],
        # Cedar: 5 months only: too little history to forecast.
        *[("C3", "Cedar", m, 50, 5) for m in MONTHS[-5:]],
        # Dune: left in August: not forecast at all.
        *[("C4", "Dune", m, 70, 7) for m in MONTHS[:-1]],
        # October is incomplete: never part of the history.
        ("C1", "Acme", OCT, 999999, 999),
    ]
    con.executemany("INSERT INTO marts.client_profitability VALUES (?, ?, ?, ?, ?)", clients)
    staff = [
        # Sam: 40 h a week, 10 % of the contract absent every month, 6 billable h a day.
        *[("S1", "Sam", m, 8 * working_days(m) * 0.9, 6 * working_days(m)) for m in MONTHS[-12:]],
        # Pat: 20 h a week, never absent, leaves on Friday 13 November 2026.
        *[("S2", "Pat", m, 4 * working_days(m), 2 * working_days(m)) for m in MONTHS[-12:]],
    ]
    con.executemany("INSERT INTO marts.staff_utilization VALUES (?, ?, ?, ?, ?)", staff)
    con.executemany(
        "INSERT INTO intermediate.int_staff_members_corrected VALUES (?, ?, ?, ?, ?)",
        [
            ("S1", 40, 0.75, date(2020, 1, 6), None),
            ("S2", 20, 0.5, date(2021, 3, 1), date(2026, 11, 13)),
        ],
    )
    yield con
    con.close()


def forecasts(con: duckdb.DuckDBPyConnection, where: str) -> list[dict]:
    cursor = con.execute(f"SELECT * FROM insights.forecasts WHERE {where} ORDER BY forecast_month")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_an_exact_series_is_forecast_exactly_with_a_zero_mase(warehouse) -> None:
    run = run_forecasts(warehouse)
    assert run.origin_month == "2026-09-01"
    hours = forecasts(warehouse, "entity_key = 'C1' AND metric = 'labor_hours'")
    assert [r["forecast_month"] for r in hours] == [OCT, NOV, DEC]
    assert [r["forecast"] for r in hours] == [Decimal(2 * d) for d in (22, 21, 23)]
    for row in hours:
        assert row["status"] == "forecast" and row["origin_month"] == SEP
        # 6 origins: 3 + 3 + 3 + 3 + 2 + 1 forecasts inside the history.
        assert row["backtest_forecasts"] == 15
        assert row["mase"] == Decimal("0.0000") and row["confidence"] == 1.0
        assert row["lower_80"] == row["forecast"] == row["upper_80"]
        assert row["history_months"] == 12 and row["last_value"] == Decimal(2 * 22)
    assert hours[0]["explanation"] == (
        "Labour hours of Acme in October 2026: 44 h (80% range 44 h to 44 h), from 2.0 h a "
        "working day over the last 12 months x 22 working days; backtest MASE 0.00 (better "
        "than repeating last year's month)."
    )
    # Revenue never changes: no error, but no seasonal-naive error either, so no MASE.
    revenue = forecasts(warehouse, "entity_key = 'C1' AND metric = 'revenue'")
    assert [r["forecast"] for r in revenue] == [Decimal("1000.00")] * 3
    assert {(r["mase"], r["confidence"]) for r in revenue} == {(None, 1.0)}


def test_the_backtest_errors_give_the_confidence_and_no_interval_without_three(
    warehouse,
) -> None:
    run_forecasts(warehouse)
    rows = forecasts(warehouse, "entity_key = 'C2' AND metric = 'revenue'")
    # Today's level: April-September = 100, 200, 100, 200, 100, 200 -> 150.
    assert [r["forecast"] for r in rows] == [Decimal("150.00")] * 3
    # Origins with 6 values: July (Feb-Jul, mean 150 -> Aug 100, Sep 200) and August
    # (Mar-Aug, mean 150 -> Sep 200): errors -50, +50, +50; |errors| 150 of actuals 500.
    assert {r["backtest_forecasts"] for r in rows} == {3}
    assert {r["confidence"] for r in rows} == {0.7}
    assert {r["mase"] for r in rows} == {None}  # no month a year earlier
    # Horizon 1 has 2 errors, horizon 2 has 1: fewer than 3, so no interval.
    assert {(r["lower_80"], r["upper_80"]) for r in rows} == {(None, None)}
    assert rows[0]["explanation"] == (
        "Revenue of Birch in October 2026: $150, from the median of the last 6 months; "
        "backtest error 30% (under a year of history: no MASE)."
    )


def test_too_little_history_says_so_and_a_client_that_left_is_not_forecast(warehouse) -> None:
    run = run_forecasts(warehouse)
    rows = forecasts(warehouse, "entity_key = 'C3' AND metric = 'labor_hours'")
    assert [(r["status"], r["forecast"], r["confidence"]) for r in rows] == [
        ("too_little_history", None, 0.0)
    ] * 3
    assert rows[0]["explanation"] == (
        "Labour hours of Cedar: not forecast, 5 months with a value in the last 12, 6 needed."
    )
    assert forecasts(warehouse, "entity_key = 'C4'") == []
    assert run.too_little_history == 2 and run.series == 2 + 2 + 2 * 2


def test_capacity_is_the_contract_less_usual_absence_and_the_team_shortfall(warehouse) -> None:
    run = run_forecasts(warehouse)
    sam = forecasts(warehouse, "entity_key = 'S1' AND metric = 'available_hours'")
    assert [r["forecast"] for r in sam] == [
        Decimal(str(round(8 * d * 0.9, 2))) for d in (22, 21, 23)
    ]
    assert sam[0]["explanation"] == (
        "Capacity of Sam in October 2026: 158 h available (22 of 22 working days employed at "
        "40.0 h a week, less 10% usual absence over the last 12 months)."
    )
    pat = forecasts(warehouse, "entity_key = 'S2' AND metric = 'available_hours'")
    # Pat works 2-13 November (10 working days) and not in December.
    assert [r["forecast"] for r in pat] == [Decimal("88.00"), Decimal("40.00"), Decimal("0.00")]
    assert "10 of 21 working days employed" in pat[1]["explanation"]
    assert "leaving 13 November 2026" in pat[1]["explanation"]
    billable = forecasts(warehouse, "entity_key = 'S1' AND metric = 'billable_hours'")
    assert [r["forecast"] for r in billable] == [Decimal(6 * d) for d in (22, 21, 23)]
    # Team: client work = Acme 2 h a day + Birch's 10 h a month as a median per working day
    # (February-September) x the month's working days; capacity = Sam x 0.75 + Pat x 0.5.
    birch_rate = float(np.median([10 / working_days(m) for m in MONTHS[16:]]))
    team = {
        (r["metric"], r["forecast_month"]): r["forecast"]
        for r in forecasts(warehouse, "entity_type = 'team'")
    }
    for month, days, pat_hours in ((OCT, 22, 88), (NOV, 21, 40), (DEC, 23, 0)):
        demand = Decimal(str(round(2 * days + birch_rate * days, 2)))
        capacity = Decimal(str(round(8 * days * 0.9 * 0.75 + pat_hours * 0.5, 2)))
        assert team[("client_work_demand", month)] == demand
        assert team[("client_work_capacity", month)] == capacity
        assert team[("capacity_gap", month)] == capacity - demand
    assert run.first_shortfall is None  # capacity covers the work in every month here
    gap = forecasts(warehouse, "metric = 'capacity_gap'")[0]["explanation"]
    assert gap == (
        "The team's client-work capacity (163 h: available hours x billable target of 2 staff "
        "members) covers the client work forecast for October 2026 (54 h for 2 clients) with "
        "109 h to spare."
    )


def test_a_shortfall_names_its_month_and_size(warehouse) -> None:
    warehouse.execute("UPDATE intermediate.int_staff_members_corrected SET billable_target = 0.1")
    run = run_forecasts(warehouse)
    assert run.first_shortfall == "2026-10-01"
    gap = forecasts(warehouse, "metric = 'capacity_gap'")[0]
    assert gap["forecast"] < 0
    assert gap["explanation"].startswith(
        "At this trend, client work (54 h forecast for 2 clients) exceeds the team's "
        "client-work capacity ("
    )
    assert gap["explanation"].endswith(f"in October 2026 by {-gap['forecast']:,.0f} h.")


def test_the_table_has_the_published_columns_even_without_data() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.client_profitability (month DATE);")
    run = run_forecasts(con)
    assert run.origin_month is None and run.series == 0
    columns = [d[0] for d in con.execute("SELECT * FROM insights.forecasts").description]
    assert columns == list(FORECAST_COLUMNS)


def _table(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM insights.forecasts ORDER BY ALL").fetchall()


def test_a_change_in_the_month_still_arriving_keeps_the_forecasts(warehouse) -> None:
    first = run_forecasts(warehouse)
    assert first.recomputed
    before = _table(warehouse)
    # a day's upload into October, which is not complete: no forecast can change
    warehouse.execute(
        "UPDATE marts.client_profitability SET labor_hours = labor_hours + 8 WHERE month = ?",
        [OCT],
    )
    warehouse.execute("INSERT INTO marts.staff_utilization VALUES ('S1', 'Sam', ?, 16, 12)", [OCT])
    kept = run_forecasts(warehouse)
    assert not kept.recomputed
    assert kept == dataclasses.replace(first, recomputed=False)
    assert _table(warehouse) == before
    warehouse.execute("DROP TABLE insights.forecast_inputs")  # computed from scratch
    assert run_forecasts(warehouse).recomputed and _table(warehouse) == before


@pytest.mark.parametrize(
    "change",
    [
        # a complete month corrected
        "UPDATE marts.client_profitability SET revenue = 2000"
        " WHERE client_id = 'C1' AND month = DATE '2026-09-01'",
        # a contract changed: Pat stays
        "UPDATE intermediate.int_staff_members_corrected SET end_date = NULL WHERE staff_id = 'S2'",
        # October completes: the forecasts start from it
        "UPDATE marts.month_completeness SET is_complete = true WHERE month = DATE '2026-10-01'",
    ],
    ids=["corrected-month", "contract", "month-completes"],
)
def test_a_change_the_forecasts_read_computes_them_again(warehouse, change: str) -> None:
    run_forecasts(warehouse)
    before = _table(warehouse)
    warehouse.execute(change)
    again = run_forecasts(warehouse)
    assert again.recomputed
    after = _table(warehouse)
    assert after != before
    warehouse.execute("DROP TABLE insights.forecast_inputs")
    assert run_forecasts(warehouse).recomputed and _table(warehouse) == after
