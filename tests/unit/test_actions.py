"""The action list on a warehouse built by hand: which rows become actions, their monthly
effects computed by hand, their confidence, sentences and rank (moatmetrics.insights.actions).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from moatmetrics.insights.actions import ACTION_COLUMNS, run_actions
from moatmetrics.settings import Settings, get_settings

JUL, AUG, SEP, OCT = (date(2026, m, 1) for m in (7, 8, 9, 10))


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("marts", "trust"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE marts.month_completeness (month DATE, is_complete BOOLEAN);"
        "CREATE TABLE marts.client_profitability (client_id VARCHAR, client_name VARCHAR,"
        " month DATE, revenue DECIMAL(18, 2), total_cost DECIMAL(18, 2),"
        " gross_profit DECIMAL(18, 2));"
        "CREATE TABLE trust.client_profitability_scores (client_id VARCHAR, month DATE,"
        " confidence DOUBLE);"
        "CREATE TABLE marts.license_utilization (client_id VARCHAR, vendor VARCHAR,"
        " product VARCHAR, month DATE, seats_purchased BIGINT, seats_assigned BIGINT,"
        " seats_billed BIGINT, utilization_rate DOUBLE, unused_seats BIGINT,"
        " monthly_waste DECIMAL(18, 2), unbilled_seats BIGINT, monthly_leakage DECIMAL(18, 2),"
        " recommendation VARCHAR);"
        "CREATE TABLE trust.license_utilization_scores (client_id VARCHAR, vendor VARCHAR,"
        " product VARCHAR, month DATE, confidence DOUBLE);"
        "CREATE TABLE trust.client_risk (client_id VARCHAR, churn_risk DOUBLE,"
        " risk_band VARCHAR);"
        "CREATE TABLE marts.staff_utilization (staff_id VARCHAR, staff_name VARCHAR, month DATE,"
        " available_hours DECIMAL(18, 2), logged_hours DECIMAL(18, 2),"
        " overtime_hours DECIMAL(18, 2), capacity_gap_hours DECIMAL(18, 2), band VARCHAR);"
        "CREATE TABLE trust.staff_utilization_scores (staff_id VARCHAR, month DATE,"
        " confidence DOUBLE);"
        "CREATE SCHEMA intermediate;"
        "CREATE TABLE intermediate.int_staff_members_corrected (staff_id VARCHAR,"
        " hourly_cost DECIMAL(18, 4))"
    )
    staff = [
        # Dana: 200 h logged of 160 available (40 h over, overloaded) at 50.00 an hour.
        ("S1", "Dana", SEP, 160, 200, 40, -30, "overloaded"),
        # Eli: 12 h over but only 30 h spare in the team after Dana's 40... none left for Eli.
        ("S2", "Eli", SEP, 100, 112, 12, -5, "overloaded"),
        # Lee and Sam: 20 h and 10 h under their billable targets (the team's spare hours).
        ("S3", "Lee", SEP, 160, 100, 0, 20, "under"),
        ("S4", None, SEP, 160, 120, 0, 10, "near"),
        # August is not the month shown.
        ("S1", "Dana", AUG, 160, 300, 140, -100, "overloaded"),
    ]
    con.executemany("INSERT INTO marts.staff_utilization VALUES (?, ?, ?, ?, ?, ?, ?, ?)", staff)
    con.executemany(
        "INSERT INTO trust.staff_utilization_scores VALUES (?, ?, ?)",
        [("S1", SEP, 0.9), ("S2", SEP, 0.7)],
    )
    con.executemany(
        "INSERT INTO intermediate.int_staff_members_corrected VALUES (?, ?)",
        [("S1", Decimal("50.00")), ("S2", Decimal("40.00")), ("S3", Decimal("45.00"))],
    )
    # October is still arriving: the actions are September's.
    con.executemany(
        "INSERT INTO marts.month_completeness VALUES (?, ?)",
        [(JUL, True), (AUG, True), (SEP, True), (OCT, False)],
    )
    profitability = [
        # Acme: 3 months at revenue 1,000 and cost 900 -> margin 10 %, under the 40 % target:
        # price 900 / 0.6 = 1,500, effect +500 a month.
        *[("C1", "Acme", m, 1000, 900, 100) for m in (JUL, AUG, SEP)],
        # Birch: margin 50 %, over the target: no action; churn risk 0.5 on revenue 2,000.
        *[("C2", "Birch", m, 2000, 1000, 1000) for m in (AUG, SEP)],
        # Cedar: only October (after the month shown): no action at all.
        ("C3", "Cedar", OCT, 10, 100, -90),
        # Acme in June is outside the 3-month window.
        ("C1", "Acme", date(2026, 6, 1), 100000, 0, 100000),
    ]
    con.executemany(
        "INSERT INTO marts.client_profitability VALUES (?, ?, ?, ?, ?, ?)", profitability
    )
    con.executemany(
        "INSERT INTO trust.client_profitability_scores VALUES (?, ?, ?)",
        [("C1", JUL, 0.9), ("C1", AUG, 0.8), ("C1", SEP, 0.7), ("C2", AUG, 0.6), ("C2", SEP, 0.4)],
    )
    con.executemany(
        "INSERT INTO marts.license_utilization VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            # 10 bought, 6 active: reclaim 4 seats at 12.10 = 48.40.
            ("C1", "Microsoft", "E3", SEP, 10, 9, 9, 0.6, 4, Decimal("48.40"), 0, 0, "reclaim"),
            # Vendor unknown, 2 assigned seats unbilled at 15 = 30.00.
            ("C2", None, "Backup", SEP, 5, 5, 3, 1.0, 0, 0, 2, Decimal("30.00"), "bill_client"),
            # August's row of the same license: not the month shown.
            ("C1", "Microsoft", "E3", AUG, 10, 9, 9, 0.6, 4, Decimal("48.40"), 0, 0, "reclaim"),
        ],
    )
    con.executemany(
        "INSERT INTO trust.license_utilization_scores VALUES (?, ?, ?, ?, ?)",
        [("C1", "Microsoft", "E3", SEP, 0.95), ("C2", None, "Backup", SEP, 0.85)],
    )
    con.executemany(
        "INSERT INTO trust.client_risk VALUES (?, ?, ?)",
        [("C2", 0.5, "high"), ("C1", 0.1, "low")],
    )
    yield con
    con.close()


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("MOATMETRICS_HOME", str(tmp_path))
    return dataclasses.replace(get_settings(), target_margin=0.4, overtime_premium=0.5)


def test_actions_of_the_last_complete_month_ranked_by_money(warehouse, settings) -> None:
    run = run_actions(warehouse, settings)
    assert run.month == "2026-09-01"
    assert run.counts == {
        "reprice_client": 1,
        "follow_up_client": 1,
        "reclaim_seats": 1,
        "bill_seats": 1,
        "rebalance_technician": 1,
    }
    assert run.monthly_effect == pytest.approx(500 + 1000 + 48.40 + 30 + 750)
    rows = warehouse.execute(
        "SELECT action_rank, action, client_id, client_name, vendor, product, staff_id,"
        " staff_name, month, monthly_effect, confidence, source_mart FROM insights.actions"
        " ORDER BY action_rank"
    ).fetchall()
    assert rows == [
        # Birch: 0.5 x 2,000 a month; confidence the mean of its window's rows.
        (1, "follow_up_client", "C2", "Birch", None, None, None, None, SEP, Decimal("1000.00"),
         0.5, "client_risk"),
        # Dana: the team's 30 spare hours (Lee 20, S4 10) of her 40 over, x 50.00 x 0.5;
        # Eli's 12 h find no spare hours left: no action for him.
        (2, "rebalance_technician", None, None, None, None, "S1", "Dana", SEP,
         Decimal("750.00"), 0.9, "staff_utilization"),
        (3, "reprice_client", "C1", "Acme", None, None, None, None, SEP, Decimal("500.00"), 0.8,
         "client_profitability"),
        (4, "reclaim_seats", "C1", "Acme", "Microsoft", "E3", None, None, SEP, Decimal("48.40"),
         0.95, "license_utilization"),
        (5, "bill_seats", "C2", "Birch", None, "Backup", None, None, SEP, Decimal("30.00"), 0.85,
         "license_utilization"),
    ]  # fmt: skip
    sentences = [r[0] for r in warehouse.execute(
        "SELECT explanation FROM insights.actions ORDER BY action_rank"
    ).fetchall()]  # fmt: skip
    assert sentences == [
        "Follow up Birch: 50% chance of leaving within three months (high risk); $2,000 a month"
        " of revenue at stake, $1,000 expected to be lost.",
        "Rebalance Dana: 200.0 h logged of 160.0 h available in September 2026 (40.0 h over);"
        " 2 colleagues under their billable target have 30.0 h spare: moving 30.0 h saves $750"
        " a month of overtime premium (50% of $50 an hour).",
        "Reprice Acme: at $1,500 a month (now $1,000, costs $900) the margin would reach the"
        " target 40% instead of 10% over the 3 months to September 2026: +$500 a month.",
        "Reclaim 4 unused seats of E3 (Microsoft) at Acme: $48 a month (60% of 10 seats active"
        " in September 2026).",
        "Bill Birch for 2 unbilled seats of Backup: $30 a month (5 assigned, 3 billed in"
        " September 2026).",
    ]
    columns = [d[0] for d in warehouse.execute("SELECT * FROM insights.actions").description]
    assert columns == list(ACTION_COLUMNS)


def test_a_lower_target_reprices_nobody_and_a_run_replaces_the_list(warehouse, settings) -> None:
    run_actions(warehouse, settings)
    run = run_actions(warehouse, dataclasses.replace(settings, target_margin=0.05))
    assert "reprice_client" not in run.counts
    (count,) = warehouse.execute("SELECT count(*) FROM insights.actions").fetchone()
    assert count == 4
