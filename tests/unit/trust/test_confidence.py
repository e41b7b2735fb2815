"""Each confidence factor moves confidence the right way, on constructed histories.

A client's history is stated month by month (revenue, hours, hours without a known cost,
time entries, entries with a data-quality warning, license products); the evidence model
(dbt's compiled SQL) and the factors run on it exactly as in the pipeline.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from trust_support import ClientMonth, client_scores, last_month

from moatmetrics.trust import confidence, formatting, scoring
from moatmetrics.trust.tables import FACTOR_COLUMNS

STEADY = [ClientMonth(revenue=1000 + 20 * (i % 3), hours=20 + (i % 2)) for i in range(6)]


def final_month(final: ClientMonth, history: list[ClientMonth] = STEADY) -> pd.Series:
    return last_month(client_scores(("C1", [*history, final])), "C1")


def test_more_unknown_cost_hours_lower_confidence() -> None:
    rows = [final_month(ClientMonth(hours=20, unknown_hours=u)) for u in (0, 2, 10, 20)]
    completeness = [r["confidence_cost_completeness"] for r in rows]
    assert completeness == [1.0, 0.9, 0.5, 0.0]
    scores = [r["confidence"] for r in rows]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert scores[-1] == 0.0  # no labour cost known at all: the margin cannot be trusted
    assert rows[2]["needs_review"] and not rows[0]["needs_review"]


def test_a_month_far_from_the_clients_history_lowers_confidence() -> None:
    rows = [final_month(ClientMonth(revenue=r)) for r in (1010, 1400, 1600, 5000)]
    consistency = [r["confidence_consistency"] for r in rows]
    assert consistency[0] == 1.0
    assert consistency == sorted(consistency, reverse=True) and len(set(consistency)) == 4
    scores = [r["confidence"] for r in rows]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert rows[-1]["needs_review"]
    # Hours far from history count too, not only money.
    assert final_month(ClientMonth(hours=80))["confidence_consistency"] < 0.5


def test_more_evidence_raises_confidence() -> None:
    rows = [final_month(ClientMonth(entries=n)) for n in (1, 4, 15, 60)]
    volume = [r["confidence_evidence_volume"] for r in rows]
    assert volume[0] == 0.4  # 1 entry + 1 invoice line: 2 / (2 + 3)
    assert volume == sorted(volume) and len(set(volume)) == 4
    scores = [r["confidence"] for r in rows]
    assert scores == sorted(scores) and len(set(scores)) == 4


def test_data_quality_warnings_on_the_inputs_lower_confidence() -> None:
    rows = [final_month(ClientMonth(entries=19, warned=w)) for w in (0, 1, 5, 19)]
    quality = [r["confidence_data_quality"] for r in rows]
    assert quality == [1.0, 0.95, 0.75, 0.05]  # of 20 input rows (19 entries + 1 invoice)
    scores = [r["confidence"] for r in rows]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4


def test_a_missing_license_snapshot_lowers_coverage() -> None:
    history = [ClientMonth(products=("A", "B")) for _ in range(6)]
    complete = final_month(ClientMonth(products=("A", "B")), history)
    one_missing = final_month(ClientMonth(products=("A",)), history)
    assert complete["confidence_coverage"] == 1.0
    assert one_missing["confidence_coverage"] == 0.5
    assert one_missing["confidence"] < complete["confidence"]
    # A client that never bought licenses through the MSP misses nothing.
    assert final_month(ClientMonth())["confidence_coverage"] == 1.0


def test_other_clients_never_change_a_clients_confidence() -> None:
    alone = client_scores(("C1", [*STEADY, ClientMonth()]))
    with_other = client_scores(
        ("C1", [*STEADY, ClientMonth()]), ("C2", [ClientMonth(revenue=9000, unknown_hours=9)] * 7)
    )
    columns = ["confidence", *FACTOR_COLUMNS]
    mine = with_other[with_other["client_id"] == "C1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone[columns], mine[columns])


def test_scores_are_identical_across_runs_and_row_orders() -> None:
    months = [*STEADY, ClientMonth(revenue=1700, unknown_hours=3, warned=2)]
    first = client_scores(("C1", months), ("C2", STEADY))
    second = client_scores(("C2", STEADY), ("C1", months))
    pd.testing.assert_frame_equal(first, second)


def test_combination_rule_is_the_weighted_product_of_the_rounded_factors() -> None:
    factors = pd.DataFrame(
        {
            "confidence_cost_completeness": [1.0, 0.7, 0.9, 1.0],
            "confidence_evidence_volume": [1.0, 1.0, 0.49, 0.0],
            "confidence_data_quality": [1.0, 1.0, 0.95, 1.0],
            "confidence_consistency": [1.0, 1.0, 0.8, 1.0],
            "confidence_coverage": [1.0, 1.0, 1.0, 1.0],
        }
    )
    with duckdb.connect() as con:
        formatting.install_macros(con)
        con.register("factors", factors)
        combined = [
            v for (v,) in con.execute(f"SELECT {confidence.combined()} FROM factors").fetchall()
        ]
    expected = np.round(0.9 * 0.49**0.5 * 0.95 * 0.8, 4)
    assert combined == [1.0, 0.7, expected, 0.0]
    assert set(confidence.WEIGHTS) == {c.removeprefix("confidence_") for c in FACTOR_COLUMNS}


@pytest.mark.parametrize(
    ("mart", "column", "values", "increasing"),
    [
        ("staff_utilization", "available_hours", [None, 160.0], True),
        ("staff_utilization", "logged_days", [5, 12, 20], True),
        ("license_utilization", "seats_billed", [None, 10.0], True),
        ("license_utilization", "snapshot_months", [1, 3, 12], True),
        ("license_utilization", "warned_rows", [0, 1], False),
    ],
)
def test_factor_directions_of_the_other_marts(
    mart: str, column: str, values: list, increasing: bool
) -> None:
    base = {
        "staff_utilization": {
            "available_hours": 160.0, "logged_hours": 150.0, "billable_hours": 120.0,
            "logged_ratio": 0.9375, "utilization": 0.75, "input_rows": 80, "warned_rows": 0,
            "logged_days": 20, "absence_days": 0, "employed_weekdays": 21, "hist_n": 6,
            "hist_avg_logged_ratio": 0.94, "hist_sd_logged_ratio": 0.03,
            "hist_avg_utilization": 0.75, "hist_sd_utilization": 0.03,
            "hist_avg_logged_hours": 150.0, "hist_sd_logged_hours": 5.0,
            "hist_avg_billable_hours": 120.0, "hist_sd_billable_hours": 5.0,
        },
        "license_utilization": {
            "seats_purchased": 10.0, "seats_active": 9.0, "seats_billed": 10.0,
            "unit_price": 12.0, "snapshot_months": 12, "input_rows": 1, "warned_rows": 0,
            "history_months": 3, "expected_history_months": 3, "hist_n": 6,
            "hist_avg_seats_purchased": 10.0, "hist_sd_seats_purchased": 0.0,
            "hist_avg_seats_active": 9.0, "hist_sd_seats_active": 0.5,
        },
    }[mart]  # fmt: skip
    frame = pd.DataFrame([{**base, column: v} for v in values]).astype(float)
    with duckdb.connect() as con:
        con.register("evidence_frame", frame)
        scored = scoring.score(con, mart, 0.7, "evidence_frame", explain=False)
    scores = scored["confidence"].tolist()
    assert scores == sorted(scores, reverse=not increasing) and len(set(scores)) == len(values)
