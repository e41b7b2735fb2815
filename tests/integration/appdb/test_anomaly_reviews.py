"""Anomalies in the review queue (moatmetrics.insights.anomalies.sync_reviews): the last 3
complete months' anomalies become items of kind `anomaly`, their status is written back into
insights.anomalies, and a dismissed (rejected) anomaly stays dismissed until its numbers
change, on both app database engines."""

from __future__ import annotations

import duckdb
import pytest
from anomaly_warehouse import DEC, FEB, JAN, build_anomaly_warehouse
from sqlalchemy import select

from moatmetrics.appdb import audit, reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import ReviewItem
from moatmetrics.insights.anomalies import run_anomalies, sync_reviews
from moatmetrics.settings import Settings

REVIEWER = audit.Actor("carol", "analyst")


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    build_anomaly_warehouse(con)
    run_anomalies(con)
    yield con
    con.close()


def statuses(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    return {
        (key, month.isoformat()): status
        for key, month, status in con.execute(
            "SELECT entity_key, month, review_status FROM insights.anomalies"
        ).fetchall()
    }


def items(settings: Settings) -> dict[str, ReviewItem]:
    with session_scope(settings) as session:
        found = session.scalars(select(ReviewItem).where(ReviewItem.mart == "anomalies")).all()
        session.expunge_all()
    return {item.subject or "": item for item in found}


def test_dismissed_until_the_numbers_change(
    warehouse: duckdb.DuckDBPyConnection, app_settings: Settings
) -> None:
    first = sync_reviews(warehouse, app_settings)
    # December, January and February 2026 are the last 3 complete months: all five anomalies
    # of the warehouse fall in them
    assert first.created == 5
    queue = items(app_settings)
    assert set(queue) == {"Acme", "Birch", "Dune", "Elm", "Staff S1"}
    acme = queue["Acme"]
    assert acme.reason_kind == "anomaly" and acme.client_id == "C1" and acme.status == "open"
    assert acme.explanation.startswith("Labour hours for Acme rose to 118 h in February 2026")
    assert queue["Elm"].money_at_stake == 3000.0  # $2,000 usual, -$1,000 now
    assert queue["Staff S1"].money_at_stake is None and queue["Staff S1"].client_id is None
    assert statuses(warehouse)[("C1", FEB.isoformat())] == "open"

    with session_scope(app_settings, write=True) as session:
        reviews.decide(session, REVIEWER, acme.id, "rejected", "a planned project, billed")
    again = sync_reviews(warehouse, app_settings)
    assert again.unchanged == 5 and again.reopened == 0
    assert items(app_settings)["Acme"].status == "rejected"
    assert statuses(warehouse)[("C1", FEB.isoformat())] == "rejected"

    # the hours are corrected upwards: new numbers, a new look
    warehouse.execute(
        "UPDATE insights.anomalies SET value = 130 WHERE entity_key = 'C1' AND month = ?", [FEB]
    )
    changed = sync_reviews(warehouse, app_settings)
    assert changed.reopened == 1
    assert items(app_settings)["Acme"].status == "open"
    assert {statuses(warehouse)[(k, m.isoformat())] for k, m in (("C2", JAN), ("C4", DEC))} == {
        "open"
    }
