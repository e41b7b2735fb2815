"""The review queue: upsert by (mart, row_key), reopen on changed numbers, decision history."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select

from moatmetrics.appdb import audit, reviews
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry, ReviewItem
from moatmetrics.settings import Settings

REVIEWER = audit.Actor("carol", "analyst")


def flagged(revenue: str, confidence: float = 0.42) -> list[dict]:
    return [
        {
            "row_key": "C1|2024-01-01",
            "row": {"client_id": "C1", "month": "2024-01-01", "revenue": Decimal(revenue)},
            "confidence": confidence,
            "factors": {"cost_completeness": 0.3, "evidence_volume": 0.9},
            "explanation": "Low cost completeness: 70 % of hours have no known cost.",
        },
        {
            "row_key": "C2|2024-01-01",
            "row": {"client_id": "C2", "month": "2024-01-01", "revenue": Decimal("10.00")},
            "confidence": 0.5,
        },
    ]


def _item(session, key: str) -> ReviewItem:  # type: ignore[no-untyped-def]
    return session.scalars(select(ReviewItem).where(ReviewItem.row_key == key)).one()


def test_sync_decide_and_reopen(app_settings: Settings) -> None:
    first = reviews.sync_review_items(
        "client_profitability", flagged("100.00"), app_settings, snapshot_id="s1"
    )
    assert first == reviews.SyncSummary(created=2)
    with session_scope(app_settings) as session:
        item = _item(session, "C1|2024-01-01")
        assert item.status == "open" and item.client_id == "C1" and item.snapshot_id == "s1"
        assert reviews.parse_json_object(item.row_json)["revenue"] == "100.00"  # exact text
        assert reviews.parse_json_object(item.factors_json)["cost_completeness"] == 0.3
        item_id, hash_100 = item.id, item.content_hash

    with session_scope(app_settings, write=True) as session:
        reviews.decide(session, REVIEWER, item_id, "approved", "checked with finance", hash_100)

    # Same numbers in the next snapshot: the approval stands.
    again = reviews.sync_review_items(
        "client_profitability", flagged("100.00", 0.45), app_settings, snapshot_id="s2"
    )
    assert again == reviews.SyncSummary(unchanged=2)
    with session_scope(app_settings) as session:
        item = _item(session, "C1|2024-01-01")
        assert item.status == "approved" and item.snapshot_id == "s2" and item.confidence == 0.45

    # Different numbers: the item needs review again; the history keeps the old decision.
    changed = reviews.sync_review_items(
        "client_profitability", flagged("130.00"), app_settings, snapshot_id="s3"
    )
    assert changed == reviews.SyncSummary(reopened=1, unchanged=1)
    with session_scope(app_settings) as session:
        item = _item(session, "C1|2024-01-01")
        assert item.status == "open" and item.content_hash != hash_100
        history = reviews.history(session, item.id)
        assert [(d.decision, d.content_hash) for d in history] == [("approved", hash_100)]

    with (
        pytest.raises(reviews.ReviewConflict),
        session_scope(app_settings, write=True) as session,
    ):
        reviews.decide(session, REVIEWER, item_id, "approved", None, hash_100)
    with session_scope(app_settings, write=True) as session:
        reviews.decide(session, REVIEWER, item_id, "rejected", "revenue double counted")
    with session_scope(app_settings) as session:
        item = _item(session, "C1|2024-01-01")
        assert item.status == "rejected"
        assert [d.decision for d in reviews.history(session, item.id)] == ["approved", "rejected"]
        total, listed = reviews.list_items(
            session, reviews.ReviewFilter(status="open", client_id="C2"), 10, 0
        )
        assert total == 1 and listed[0].row_key == "C2|2024-01-01"
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions.count("pipeline.review_sync") == 3
    assert actions.count("reviews.decide") == 2
    assert audit.verify(app_settings).valid


def test_publish_names_its_snapshot_on_the_items_it_publishes(app_settings: Settings) -> None:
    mart = "client_profitability"
    reviews.sync_review_items(mart, flagged("100.00"), app_settings)  # before the publish
    with session_scope(app_settings) as session:
        assert {i.snapshot_id for i in session.scalars(select(ReviewItem))} == {None}
    assert reviews.stamp_published("snap-1", app_settings) == 2
    reviews.sync_review_items(mart, flagged("100.00")[:1], app_settings)  # C2 no longer flagged
    assert reviews.stamp_published("snap-2", app_settings) == 1
    assert reviews.stamp_published("snap-3", app_settings) == 0  # nothing waits
    with session_scope(app_settings) as session:
        assert _item(session, "C1|2024-01-01").snapshot_id == "snap-2"
        c2 = _item(session, "C2|2024-01-01")  # resolved: where it was last flagged
        assert (c2.status, c2.snapshot_id) == ("resolved", "snap-1")


def test_decision_rules(sqlite_settings: Settings) -> None:
    reviews.sync_review_items("staff_utilization", flagged("1.00"), sqlite_settings)
    with session_scope(sqlite_settings) as session:
        item_id = _item(session, "C1|2024-01-01").id
    for decision, comment in (("rejected", None), ("rejected", "  "), ("maybe", "x")):
        with pytest.raises(ValueError), session_scope(sqlite_settings, write=True) as session:
            reviews.decide(session, REVIEWER, item_id, decision, comment)
    with pytest.raises(LookupError), session_scope(sqlite_settings, write=True) as session:
        reviews.decide(session, REVIEWER, 12345, "approved", None)


def test_content_hash_is_canonical() -> None:
    a = reviews.content_hash({"b": Decimal("1.50"), "a": "x"})
    assert a == reviews.content_hash({"a": "x", "b": Decimal("1.50")})
    assert a != reviews.content_hash({"a": "x", "b": Decimal("1.5")})


def test_items_no_longer_flagged_are_resolved_and_reopen_when_flagged_again(
    app_settings: Settings,
) -> None:
    mart = "client_profitability"
    reviews.sync_review_items(mart, flagged("100.00"), app_settings)
    with session_scope(app_settings, write=True) as session:
        decided = _item(session, "C2|2024-01-01")
        reviews.decide(session, REVIEWER, decided.id, "approved", None, decided.content_hash)
    reviews.sync_review_items("license_utilization", [flagged("5.00")[0]], app_settings)

    # Next run: neither row of this mart is flagged any more (confidence rose).
    summary = reviews.sync_review_items(mart, [], app_settings)
    assert summary == reviews.SyncSummary(resolved=1)  # the open one; the decided one stays
    with session_scope(app_settings) as session:
        statuses = {
            (item.mart, item.row_key): item.status for item in session.scalars(select(ReviewItem))
        }
    assert statuses == {
        (mart, "C1|2024-01-01"): "resolved",
        (mart, "C2|2024-01-01"): "approved",
        ("license_utilization", "C1|2024-01-01"): "open",  # another mart is not touched
    }

    # Flagged again with the same numbers: it needs a reviewer again.
    again = reviews.sync_review_items(mart, flagged("100.00"), app_settings)
    assert again == reviews.SyncSummary(reopened=1, unchanged=1)
    with session_scope(app_settings) as session:
        assert _item_of(session, mart, "C1|2024-01-01").status == "open"


def _item_of(session, mart: str, key: str) -> ReviewItem:  # type: ignore[no-untyped-def]
    query = select(ReviewItem).where(ReviewItem.mart == mart, ReviewItem.row_key == key)
    return session.scalars(query).one()


def test_items_kept_unchanged_are_only_named_for_the_next_publish(app_settings: Settings) -> None:
    mart = "license_utilization"
    rows = [{**row, "subject": "Acme"} for row in flagged("100.00")]
    reviews.sync_review_items(mart, rows, app_settings)
    assert reviews.stamp_published("snap-1", app_settings) == 2
    with session_scope(app_settings, write=True) as session:
        c1 = _item(session, "C1|2024-01-01")
        reviews.decide(session, REVIEWER, c1.id, "approved", None, c1.content_hash)
        c1_before = (c1.content_hash, c1.row_json, c1.explanation, c1.confidence)

    # A renamed client is not kept (its subject moves); an unknown key neither.
    wanted = {"C1|2024-01-01": "Acme", "C2|2024-01-01": "Acme Ltd", "C3|2024-01-01": "Birch"}
    assert reviews.items_to_keep(mart, wanted, app_settings) == {"C1|2024-01-01"}

    # The next run kept C1's numbers: touched, not rewritten; C2 is not flagged any more.
    summary = reviews.sync_review_items(mart, [], app_settings, unchanged=["C1|2024-01-01"])
    assert summary == reviews.SyncSummary(unchanged=1, resolved=1)
    assert summary.statuses == {"C1|2024-01-01": "approved"}
    assert reviews.stamp_published("snap-2", app_settings) == 1
    with session_scope(app_settings) as session:
        c1 = _item(session, "C1|2024-01-01")
        assert (c1.content_hash, c1.row_json, c1.explanation, c1.confidence) == c1_before
        assert (c1.status, c1.snapshot_id) == ("approved", "snap-2")
        assert _item(session, "C2|2024-01-01").status == "resolved"
    # A resolved item is never kept: flagged again, it must be written and reopened.
    assert reviews.items_to_keep(mart, {"C2|2024-01-01": "Acme"}, app_settings) == set()


def test_the_trust_layer_syncs_kept_rows_and_no_flagged_row(app_settings: Settings) -> None:
    from moatmetrics.trust import review
    from moatmetrics.trust.tables import FACTOR_COLUMNS

    mart, columns = "staff_utilization", ["staff_id", "staff_name", "month", "utilization"]

    def frame(rows: list[list]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=[*columns, "confidence", *FACTOR_COLUMNS, "explanation"])

    sam = ["S1", "Sam", date(2024, 1, 1), 0.5, 0.4, *[0.5] * len(FACTOR_COLUMNS), "Few entries."]
    statuses, summary = review.sync(app_settings, mart, frame([sam]), columns)
    assert (statuses, summary) == (["open"], reviews.SyncSummary(created=1))
    # the next run kept Sam's row: its item is kept, not rewritten
    statuses, summary = review.sync(app_settings, mart, frame([sam]), columns, kept=[True])
    assert (statuses, summary) == (["open"], reviews.SyncSummary(unchanged=1))
    # then nothing is flagged (an empty frame, as a month without a flagged row gives)
    statuses, summary = review.sync(app_settings, mart, frame([]), columns, kept=[])
    assert (statuses, summary) == ([], reviews.SyncSummary(resolved=1))
