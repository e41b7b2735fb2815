"""Anomalies on a warehouse built by hand (moatmetrics.insights.anomalies): the usual level and
range, the robust spread and its floors, the seasonal factor, the peer shift, materiality,
onsets, the margin fold, drivers, confidence and the sentence, each worked out here.

The warehouse and its cases: tests/anomaly_warehouse.py.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest
from anomaly_warehouse import DEC, FEB, JAN, MAR, build_anomaly_warehouse

from moatmetrics.insights.anomalies import ANOMALY_COLUMNS, run_anomalies


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    build_anomaly_warehouse(con)
    yield con
    con.close()


def anomalies(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, date], dict]:
    cursor = con.execute("SELECT * FROM insights.anomalies")
    names = [d[0] for d in cursor.description]
    return {
        (row["kind"], row["entity_key"], row["month"]): row
        for row in (dict(zip(names, r, strict=True)) for r in cursor.fetchall())
    }


def test_a_spike_against_its_own_usual_range(warehouse: duckdb.DuckDBPyConnection) -> None:
    run = run_anomalies(warehouse)
    found = anomalies(warehouse)
    acme = found[("hours_spike", "C1", FEB)]
    # Acme's last 12 months, December divided by its seasonal factor 0.5: 38 x 6, 40, 42 x 5;
    # usual 39 (median), range 38-42 (25th-75th percentile), MAD 1: the spread is
    # max(1.4826 x 1, 25 % of 39, 4 h) = 9.75; (118 - 39) / 9.75 = 8.10 spreads, less the
    # month's median among peers (0)
    assert acme["expected"] == Decimal("39.00") and acme["score"] == Decimal("8.10")
    assert (acme["expected_low"], acme["expected_high"]) == (Decimal("38.00"), Decimal("42.00"))
    assert acme["severity"] == "medium" and acme["history_months"] == 12
    # its gross profit collapsed with it: folded in as a driver, not listed apart; remote
    # support (38 h against a usual 39 h) did not push the hours up, so it is not a driver
    assert ("margin_collapse", "C1", FEB) not in found
    assert acme["explanation"] == (
        "Labour hours for Acme rose to 118 h in February 2026, against a usual 38–42 h: "
        "project 80 h over 3 tickets (usually 0 h); gross profit -$2,000 (usually $2,000)."
    )
    # the row's trust factors without consistency: 0.9 x 0.81 ** 0.5 x 1 x 1, 12 of 12 months
    assert acme["confidence"] == pytest.approx(0.81)
    columns = [d[0] for d in warehouse.execute("SELECT * FROM insights.anomalies").description]
    assert columns == list(ANOMALY_COLUMNS)
    assert run.last_month == "2026-02-01" and run.months_checked == 8  # July 2025 on


def test_onsets_seasons_peers_materiality_and_history(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    run_anomalies(warehouse)
    found = anomalies(warehouse)
    # Birch's revenue fell in January and stayed down: one anomaly, at its onset, its margin
    # collapse folded in
    birch = [key for key in found if key[1] == "C2"]
    assert birch == [("revenue_drop", "C2", JAN)]
    # (1,000 - 5,000) / max(0, 5 % of 5,000, $250) = 16 spreads the falling way: high
    drop = found[("revenue_drop", "C2", JAN)]
    assert drop["score"] == Decimal("16.00") and drop["severity"] == "high"
    assert drop["drivers"] == (
        "recurring revenue $500 (usually $4,500); gross profit -$2,000 (usually $2,000)"
    )
    # December halves everybody's hours (seasonal factor 0.5): Dune's 60 h is 120 h of a
    # usual month, 8 spreads up; its usual level in December is 20 h
    dune = found[("hours_spike", "C4", DEC)]
    assert dune["expected"] == Decimal("20.00") and dune["score"] == Decimal("8.00")
    # Elm: a cost with revenue as usual is a margin collapse of its own, 12 spreads down
    elm = found[("margin_collapse", "C5", FEB)]
    assert elm["score"] == Decimal("12.00") and elm["value"] == Decimal("-1000.00")
    assert elm["drivers"] == "other costs $4,500 (usually $1,500)"
    # S1 logs 145 % of the available hours against a usual 90 %: (1.45 - 0.9) / 0.045
    s1 = found[("staff_hours_spike", "S1", FEB)]
    assert s1["score"] == Decimal("12.22") and s1["severity"] == "high"
    assert s1["explanation"] == (
        "Share of available hours logged for Staff S1 rose to 145% in February 2026, against "
        "a usual 90%: internal 90 h (usually 10 h)."
    )
    # S2's 19 points are 6.3 spreads but not material (20 points needed)
    assert not [key for key in found if key[1] == "S2"]
    # every licence gained 10 unused seats: a shared change is nobody's anomaly
    assert not [key for key in found if key[0] == "unused_seats_jump"]
    # Fir has 5 months before February, 6 are needed: not checked; March is still arriving
    assert not [key for key in found if key[1] == "C6"]
    assert not [key for key in found if key[2] == MAR]
    assert set(found) == {
        ("hours_spike", "C1", FEB), ("revenue_drop", "C2", JAN), ("hours_spike", "C4", DEC),
        ("margin_collapse", "C5", FEB), ("staff_hours_spike", "S1", FEB),
    }  # fmt: skip


def _table(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM insights.anomalies ORDER BY ALL").fetchall()


def _recomputed_from_scratch(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The table a first run computes on `con` as it is now (no kept result to reuse)."""
    con.execute("DROP TABLE insights.anomaly_inputs")
    run = run_anomalies(con)
    assert run.recomputed
    return _table(con)


def test_a_change_in_the_month_still_arriving_keeps_the_table(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    first = run_anomalies(warehouse)
    assert first.recomputed
    before = _table(warehouse)
    # a day's upload lands in March, which is not complete: no anomaly can change
    warehouse.execute(
        "UPDATE marts.client_profitability SET labor_hours = labor_hours + 30,"
        " revenue = revenue + 900 WHERE month = ?",
        [MAR],
    )
    warehouse.execute(
        "UPDATE intermediate.int_client_work_types_summarized SET hours = hours + 30"
        " WHERE month = ?",
        [MAR],
    )
    warehouse.execute(  # and the month's count of entries grows, as every day
        "UPDATE marts.month_completeness SET time_entries = time_entries + 30 WHERE month = ?",
        [MAR],
    )
    kept = run_anomalies(warehouse)
    assert not kept.recomputed
    assert (kept.months_checked, kept.counts, kept.last_month, kept.in_review) == (
        first.months_checked, first.counts, first.last_month, first.in_review,
    )  # fmt: skip
    assert _table(warehouse) == before == _recomputed_from_scratch(warehouse)


@pytest.mark.parametrize(
    ("change", "table_changes"),
    [
        # a complete month's number corrected: Birch's January revenue no longer dropped
        ("UPDATE marts.client_profitability SET revenue = 5000, recurring_revenue = 4500,"
         " gross_profit = 2000 WHERE client_id = 'C2' AND month = DATE '2026-01-01'", True),
        # a trust factor of a complete month: the anomaly's confidence moves
        ("UPDATE trust.client_profitability_scores SET confidence_evidence_volume = 0.5"
         " WHERE client_id = 'C1' AND month = DATE '2026-02-01'", True),
        # a work type of a complete month: a driver's number moves
        ("UPDATE intermediate.int_client_work_types_summarized SET hours = hours + 5"
         " WHERE client_id = 'C1' AND month = DATE '2026-02-01'", True),
        # a client renamed in a month still arriving: a licence's name carries its client's
        # newest one (Acme has no licence anomaly: the table is the same, computed again)
        ("INSERT INTO marts.client_profitability SELECT client_id, 'Acme Ltd',"
         " DATE '2026-03-01', revenue, recurring_revenue, labor_hours, labor_cost, license_cost,"
         " other_cost, gross_profit FROM marts.client_profitability"
         " WHERE client_id = 'C1' AND month = DATE '2026-02-01'", False),
        # March completes: it is checked now (it has no numbers yet, so nothing is found)
        ("UPDATE marts.month_completeness SET is_complete = true"
         " WHERE month = DATE '2026-03-01'", False),
    ],
    ids=["corrected-month", "trust-factor", "work-type", "renamed", "month-completes"],
)  # fmt: skip
def test_a_change_an_anomaly_reads_computes_the_table_again(
    warehouse: duckdb.DuckDBPyConnection, change: str, table_changes: bool
) -> None:
    run_anomalies(warehouse)
    before = _table(warehouse)
    warehouse.execute(change)
    again = run_anomalies(warehouse)
    assert again.recomputed
    after = _table(warehouse)
    assert (after != before) == table_changes
    assert after == _recomputed_from_scratch(warehouse)
