"""The insights on the demo data, as published.

marts.trends: every series is the marts' own numbers, the portfolio's are the marts' formulas
over its sums, and a direction exists exactly where the window has the history for a slope.
The formulas themselves (windows, slope, thresholds, sentences) are dbt unit tests
(`dbt_project/models/marts/_marts__models.yml`, trends_*).

marts.actions: each action is the published row it comes from, of the last complete month,
ranked by money (the selection and effects by hand: tests/unit/test_actions.py).

marts.anomalies: the demo's planted events are found with precision and recall of at least
0.8 per kind (the method by hand: tests/unit/test_anomalies.py), and the last 3 complete
months' anomalies are in the review queue.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome


@pytest.fixture(scope="module")
def snapshot(demo_home: BuiltHome) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_home.snapshot), read_only=True)
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.mark.parametrize(
    ("mart", "key", "entity_type", "metric", "column"),
    [
        ("client_profitability", "client_id", "client", "revenue", "revenue"),
        ("client_profitability", "client_id", "client", "gross_margin", "gross_margin"),
        ("client_profitability", "client_id", "client", "labor_hours", "labor_hours"),
        ("staff_utilization", "staff_id", "staff", "utilization", "utilization"),
        ("staff_utilization", "staff_id", "staff", "labor_hours", "logged_hours"),
    ],
)
def test_each_series_is_the_marts_own_numbers(
    snapshot: duckdb.DuckDBPyConnection,
    mart: str,
    key: str,
    entity_type: str,
    metric: str,
    column: str,
) -> None:
    published = rows(
        snapshot,
        f"SELECT {key}, month, CAST({column} AS DECIMAL(18, 4)) FROM marts.{mart}"
        f" WHERE {column} IS NOT NULL ORDER BY 1, 2",
    )
    series = rows(
        snapshot,
        f"SELECT entity_key, month, value FROM marts.trends WHERE entity_type = '{entity_type}'"
        f" AND metric = '{metric}' ORDER BY 1, 2",
    )
    assert len(published) > 100
    assert series == published


def test_license_series_and_client_license_money(snapshot: duckdb.DuckDBPyConnection) -> None:
    waste = rows(
        snapshot,
        "SELECT client_id || ' / ' || coalesce(vendor, '') || ' / ' || product, month,"
        " CAST(monthly_waste AS DECIMAL(18, 4)) FROM marts.license_utilization"
        " WHERE monthly_waste IS NOT NULL ORDER BY 1, 2",
    )
    assert (
        rows(
            snapshot,
            "SELECT entity_key, month, value FROM marts.trends"
            " WHERE entity_type = 'license' AND metric = 'waste' ORDER BY 1, 2",
        )
        == waste
    )
    by_client = rows(
        snapshot,
        "SELECT client_id, month, CAST(sum(monthly_waste) AS DECIMAL(18, 4))"
        " FROM marts.license_utilization GROUP BY ALL HAVING sum(monthly_waste) IS NOT NULL"
        " AND (client_id, month) IN (SELECT (client_id, month) FROM marts.client_profitability)"
        " ORDER BY 1, 2",
    )
    assert (
        rows(
            snapshot,
            "SELECT entity_key, month, value FROM marts.trends"
            " WHERE entity_type = 'client' AND metric = 'waste' ORDER BY 1, 2",
        )
        == by_client
    )


def test_portfolio_is_the_marts_formulas_over_its_sums(
    snapshot: duckdb.DuckDBPyConnection,
) -> None:
    totals = rows(
        snapshot,
        "SELECT month, sum(revenue), sum(gross_profit), sum(labor_hours)"
        " FROM marts.client_profitability GROUP BY month ORDER BY month",
    )
    portfolio = {
        (metric, month): value
        for metric, month, value in rows(
            snapshot,
            "SELECT metric, month, value FROM marts.trends WHERE entity_type = 'portfolio'",
        )
    }
    assert len(totals) >= 12
    for month, revenue, gross_profit, labor_hours in totals:
        assert portfolio[("revenue", month)] == revenue
        assert portfolio[("labor_hours", month)] == labor_hours
        margin = (Decimal(gross_profit) / Decimal(revenue)).quantize(Decimal("0.0001"))
        assert portfolio[("gross_margin", month)] == margin


def test_a_direction_exactly_where_there_is_a_slope(
    snapshot: duckdb.DuckDBPyConnection,
) -> None:
    (counts,) = rows(
        snapshot,
        "SELECT count(*),"
        " count(*) FILTER (WHERE (slope_6m IS NULL) <> (months_in_window < 3)),"
        " count(*) FILTER (WHERE (direction IS NULL) <> (slope_6m IS NULL)),"
        " count(*) FILTER (WHERE explanation NOT LIKE '% of %'),"
        " count(DISTINCT direction), min(confidence), max(confidence)"
        " FROM marts.trends",
    )
    total, slope_mismatch, direction_mismatch, unexplained, directions, low, high = counts
    assert total > 1000
    assert (slope_mismatch, direction_mismatch, unexplained) == (0, 0, 0)
    assert directions == 5  # improving, stable, worsening, rising and falling all occur
    assert 0 < low < high == 1


def test_actions_are_the_published_rows_of_the_last_complete_month(
    snapshot: duckdb.DuckDBPyConnection,
) -> None:
    (month,) = rows(snapshot, "SELECT max(month) FROM marts.month_completeness WHERE is_complete")[
        0
    ]
    actions = rows(
        snapshot,
        "SELECT action_rank, action, month, monthly_effect, confidence FROM marts.actions"
        " ORDER BY action_rank",
    )
    assert {a[1] for a in actions} == {
        "reclaim_seats", "bill_seats", "reprice_client", "follow_up_client",
        "rebalance_technician",
    }  # fmt: skip
    overloaded = snapshot.execute(
        "SELECT staff_id FROM marts.staff_utilization WHERE month = ? AND band = 'overloaded'"
        " AND overtime_hours > 0 ORDER BY 1",
        [month],
    ).fetchall()
    rebalanced = rows(
        snapshot,
        "SELECT staff_id FROM marts.actions WHERE action = 'rebalance_technician' ORDER BY 1",
    )
    assert rebalanced and set(rebalanced) <= set(overloaded)
    assert [a[0] for a in actions] == list(range(1, len(actions) + 1))
    effects = [a[3] for a in actions]
    assert effects == sorted(effects, reverse=True) and effects[-1] > 0
    assert {a[2] for a in actions} == {month}
    assert all(0 < a[4] <= 1 for a in actions)
    for action, column, condition in (
        ("reclaim_seats", "monthly_waste", "recommendation = 'reclaim' AND monthly_waste > 0"),
        ("bill_seats", "monthly_leakage", "unbilled_seats > 0 AND monthly_leakage > 0"),
    ):
        published = snapshot.execute(
            f"SELECT client_id, vendor, product, {column}, round(confidence, 4)"
            f" FROM marts.license_utilization WHERE month = ? AND {condition} ORDER BY ALL",
            [month],
        ).fetchall()
        assert published
        assert (
            rows(
                snapshot,
                "SELECT client_id, vendor, product, monthly_effect, confidence FROM marts.actions"
                f" WHERE action = '{action}' ORDER BY ALL",
            )
            == published
        )
    at_risk = rows(
        snapshot,
        "SELECT client_id FROM marts.client_risk WHERE risk_band IN ('high', 'elevated')"
        " ORDER BY 1",
    )
    assert (
        rows(
            snapshot,
            "SELECT client_id FROM marts.actions WHERE action = 'follow_up_client' ORDER BY 1",
        )
        == at_risk
    )


def test_forecasts_beat_seasonal_naive_on_the_demo_clients(
    snapshot: duckdb.DuckDBPyConnection,
) -> None:
    """Issue 16's acceptance: MASE below 1 for client hours and revenue on the demo data, as
    the median and the mean over the series with a MASE (one per series: horizon 1)."""
    (month,) = rows(snapshot, "SELECT max(month) FROM marts.month_completeness WHERE is_complete")[
        0
    ]
    for metric in ("labor_hours", "revenue"):
        mase = [
            float(m)
            for (m,) in rows(
                snapshot,
                "SELECT mase FROM marts.forecasts WHERE entity_type = 'client'"
                f" AND metric = '{metric}' AND horizon = 1 AND mase IS NOT NULL",
            )
        ]
        assert len(mase) >= 20
        assert sorted(mase)[len(mase) // 2] < 1 and sum(mase) / len(mase) < 1, (metric, mase)
    origins = rows(snapshot, "SELECT DISTINCT origin_month FROM marts.forecasts")
    assert origins == [(month,)]


def test_forecasts_are_the_published_marts_medians(snapshot: duckdb.DuckDBPyConnection) -> None:
    """Every client's revenue forecast is the median of its last 6 published months; the team's
    client work is the client hour forecasts summed; forecasts lie inside their intervals."""
    (month,) = rows(snapshot, "SELECT max(month) FROM marts.month_completeness WHERE is_complete")[
        0
    ]
    expected = snapshot.execute(
        "SELECT client_id, CAST(median(CAST(revenue AS DOUBLE)) AS DECIMAL(18, 2))"
        " FROM marts.client_profitability WHERE month > $month - INTERVAL 6 MONTH"
        " AND month <= $month GROUP BY client_id HAVING count(*) = 6 AND max(month) = $month"
        " ORDER BY 1",
        {"month": month},
    ).fetchall()
    published = rows(
        snapshot,
        "SELECT client_id, forecast FROM marts.forecasts WHERE metric = 'revenue'"
        " AND horizon = 1 AND status = 'forecast' ORDER BY 1",
    )
    assert published == expected
    team = rows(
        snapshot,
        "SELECT t.forecast_month, t.forecast, sum(c.forecast) FROM marts.forecasts AS t"
        " JOIN marts.forecasts AS c ON c.forecast_month = t.forecast_month"
        " AND c.entity_type = 'client' AND c.metric = 'labor_hours' AND c.status = 'forecast'"
        " WHERE t.metric = 'client_work_demand' GROUP BY ALL ORDER BY 1",
    )
    assert len(team) == 3
    for _, demand, summed in team:
        assert abs(demand - summed) <= Decimal("0.01") * 40  # each client's rounding
    outside = rows(
        snapshot,
        "SELECT count(*) FROM marts.forecasts WHERE lower_80 > forecast OR upper_80 < forecast",
    )
    assert outside == [(0,)]
    thin = rows(
        snapshot,
        "SELECT count(*), count(forecast) FROM marts.forecasts WHERE status <> 'forecast'",
    )
    assert thin[0][1] == 0


def test_benchmarks_compare_the_portfolio_with_the_sourced_bands_only(
    snapshot: duckdb.DuckDBPyConnection,
) -> None:
    """Every band in marts.benchmarks is a row of the shipped seed (never a made-up value),
    each month has every band of the seed, positions follow the bounds and license
    utilisation is the license mart's seats active / purchased."""
    import csv

    from checkout import REPO_ROOT

    seed_path = REPO_ROOT / "moatmetrics" / "dbt_project" / "seeds" / "benchmark_bands.csv"
    with seed_path.open() as f:
        seed = {
            (r["metric"], r["band"], Decimal(r["low"]) if r["low"] else None,
             Decimal(r["high"]) if r["high"] else None, r["source_url"])
            for r in csv.DictReader(f)
        }  # fmt: skip
    published = rows(
        snapshot,
        "SELECT DISTINCT metric, band, low, high, source_url FROM marts.benchmarks",
    )
    assert {(m, b, lo, hi, url) for m, b, lo, hi, url in published} == seed
    per_month = rows(snapshot, "SELECT month, count(*) FROM marts.benchmarks GROUP BY month")
    assert len(per_month) >= 20 and {n for _, n in per_month} == {len(seed)}
    wrong = rows(
        snapshot,
        "SELECT * FROM marts.benchmarks WHERE position <> CASE"
        " WHEN low IS NOT NULL AND value < low THEN 'below'"
        " WHEN high IS NOT NULL AND value > high THEN 'above' ELSE 'within' END",
    )
    assert wrong == []
    licenses = rows(
        snapshot,
        "SELECT b.month, b.value, round(sum(l.seats_active) / sum(l.seats_purchased), 4)"
        " FROM marts.benchmarks AS b JOIN marts.license_utilization AS l USING (month)"
        " WHERE b.metric = 'license_utilization' AND l.seats_active IS NOT NULL"
        " AND l.seats_purchased > 0 GROUP BY b.month, b.value",
    )
    assert licenses and all(value == Decimal(str(expected)) for _, value, expected in licenses)


def test_anomalies_find_the_planted_events(
    snapshot: duckdb.DuckDBPyConnection, demo_labels: Path, demo_home: BuiltHome
) -> None:
    """Recall: the planted events of each kind found (same entity, month and kind); precision:
    the anomalies of each kind a label explains (a planted event, a churn decline, a natural
    subcontractor bill, a draft invoice; moatmetrics.demo_data.events.EXPLAINS)."""
    from moatmetrics.demo_data.events import PLANTED_KINDS, detection_scores, read_labels

    assert demo_labels.exists() and not (demo_home.files / demo_labels.name).exists()
    labels = read_labels(demo_labels)
    detections = [
        (kind, key, client or "", month.isoformat())
        for kind, key, client, month in rows(
            snapshot, "SELECT kind, entity_key, client_id, month FROM marts.anomalies"
        )
    ]
    scores = detection_scores(labels, detections)
    assert set(scores) == set(PLANTED_KINDS)
    for kind, score in scores.items():
        assert score.planted == 10, kind
        assert score.recall >= 0.8 and score.precision >= 0.8, score
    # every anomaly says what moved, and the sentence carries it
    assert rows(
        snapshot,
        "SELECT count(*) FROM marts.anomalies WHERE drivers IS NULL"
        " OR NOT contains(explanation, drivers) OR score < 6",
    ) == [(0,)]


def test_recent_anomalies_are_in_the_review_queue(
    snapshot: duckdb.DuckDBPyConnection, demo_home: BuiltHome
) -> None:
    from sqlalchemy import select

    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import ReviewItem

    recent = rows(
        snapshot,
        "SELECT entity_key, explanation FROM marts.anomalies WHERE month > (SELECT max(month)"
        " FROM marts.month_completeness WHERE is_complete) - INTERVAL 3 MONTH",
    )
    assert len(recent) >= 5
    assert rows(
        snapshot, "SELECT DISTINCT review_status FROM marts.anomalies WHERE month <= (SELECT"
        " max(month) FROM marts.month_completeness WHERE is_complete) - INTERVAL 3 MONTH",
    ) == [("not_required",)]  # fmt: skip
    with session_scope(demo_home.settings) as session:
        queued = session.execute(
            select(ReviewItem.explanation, ReviewItem.reason_kind, ReviewItem.snapshot_id).where(
                ReviewItem.mart == "anomalies"
            )
        ).all()
    assert sorted(e for e, _, _ in queued) == sorted(e for _, e in recent)
    assert {(kind, snap) for _, kind, snap in queued} == {("anomaly", demo_home.snapshot_id)}


def test_trend_breaks_and_the_capacity_crunch_are_seen(
    snapshot: duckdb.DuckDBPyConnection, demo_labels: Path
) -> None:
    """The demo's labelled trend breaks (each churning client's decline) show in the trends as
    a worsening margin or effective rate by the decline's last month, for at least 8 in 10 of
    them; its planted capacity crunch (two leavers with known dates) shows in the team forecast
    of the labelled month as a shortfall, named in its sentence, their capacity gone."""
    from moatmetrics.demo_data.events import read_labels

    labels = read_labels(demo_labels)
    last_decline: dict[str, str] = {}
    for label in labels:
        if label["kind"] == "churn_decline":
            client = label["client_id"]
            last_decline[client] = max(last_decline.get(client, ""), label["month"])
    seen = 0
    for client, month in last_decline.items():
        directions = dict(
            rows(
                snapshot,
                "SELECT metric, direction FROM marts.trends WHERE entity_type = 'client'"
                f" AND entity_key = '{client}' AND month = DATE '{month}'"
                " AND metric IN ('gross_margin', 'effective_hourly_rate')",
            )
        )
        seen += "worsening" in directions.values()
    assert len(last_decline) >= 10 and seen / len(last_decline) >= 0.8, (seen, last_decline)

    (crunch,) = [label for label in labels if label["kind"] == "capacity_crunch"]
    assert crunch["planted"] == "true"
    ((gap, explanation),) = rows(
        snapshot,
        "SELECT forecast, explanation FROM marts.forecasts WHERE entity_type = 'team'"
        f" AND metric = 'capacity_gap' AND forecast_month = DATE '{crunch['month']}'",
    )
    assert gap < 0 and "exceeds the team's client-work capacity" in explanation
    leavers = crunch["detail"].split(": ")[1].split(", ")
    assert len(leavers) == 2  # a tenth of 15, at least 2
    capacity = rows(
        snapshot,
        "SELECT entity_key, forecast FROM marts.forecasts WHERE metric = 'available_hours'"
        f" AND forecast_month = DATE '{crunch['month']}' ORDER BY 1",
    )
    assert {key: hours for key, hours in capacity if key in leavers} == dict.fromkeys(
        leavers, Decimal("0.00")
    )
