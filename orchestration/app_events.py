"""What the pipeline tells the app database: upload outcomes and audit events.

Kept out of the assets so each asset needs one call: the ingest reports every file's result
(with all its problem rows) and every blocking check, the publish asset reports each publish.
Everything is recorded under the audit actor ``pipeline``. A failure to record fails the step:
an ingest the audit log does not show must not lead to a published snapshot.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg

from moatmetrics.appdb.audit import PIPELINE, record_pipeline_event
from moatmetrics.appdb.uploads import record_ingest_result, warehouse_problems
from moatmetrics.ingest.loader import Ingestor, UploadResult
from moatmetrics.seam.base import Storage
from moatmetrics.settings import Settings
from moatmetrics.snapshots import prune_audited


def report_upload(con: Any, result: UploadResult) -> UploadResult:
    """Record one ingested file (status, counts, score, every problem row); returns it."""
    record_ingest_result(result, warehouse_problems(con, result.upload_id))
    return result


def declared_upload_periods(settings: Settings) -> dict[str, tuple[date, date]]:
    """The periods HTTP uploaders declared for files still waiting, by warehouse upload id."""
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.uploads import declared_periods

    with session_scope(settings) as session:
        return declared_periods(session)


def apply_retractions(ingestor: Ingestor, settings: Settings) -> list[str]:
    """Take the rows of uploads retracted since the last run out of the warehouse (audited
    as ``pipeline.retract``); returns their upload ids. Uploads retracted before: nothing."""
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.uploads import retracted_uploads

    with session_scope(settings) as session:
        retracted = retracted_uploads(session)
    applied = []
    for upload_id, (reason, who) in sorted(retracted.items()):
        entity = ingestor.retract(upload_id, reason, who)
        if entity is None:
            continue
        applied.append(upload_id)
        record_pipeline_event(
            "pipeline.retract", "ok", target=f"raw/{entity}",
            details={"upload_id": upload_id, "reason": reason, "retracted_by": who},
            settings=settings,
        )  # fmt: skip
    return applied


def audited(check: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """Record a check result in the audit log; returns it unchanged (for `yield`)."""
    asset = "/".join(check.asset_key.path) if check.asset_key else "?"
    record_pipeline_event(
        "pipeline.check",
        "passed" if check.passed else "failed",
        target=f"{asset}.{check.check_name}",
        details={
            "severity": check.severity.value if check.severity else None,
            "description": (check.description or "")[:2000],
        },
    )
    return check


def report_held_rows(settings: Settings, snapshot_id: str) -> int:
    """After a publish: each accepted upload's held rows (the uploads page's `held`) and one
    review item per held client key (resolved by itself once the key resolves)."""
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.reviews import sync_review_items
    from moatmetrics.appdb.uploads import record_held_rows
    from moatmetrics.trust.identity_review import review_entries
    from moatmetrics.trust.review_reasons import CLIENT_IDENTITY
    from moatmetrics.warehouse.connection import warehouse_connection
    from moatmetrics.warehouse.held_clients import held_keys_with_suggestions, held_rows_by_upload

    with warehouse_connection(settings) as con:
        held = held_rows_by_upload(con)
        keys = held_keys_with_suggestions(con)
    sync_review_items(CLIENT_IDENTITY, review_entries(keys), settings, snapshot_id=snapshot_id)
    with session_scope(settings, write=True) as session:
        return record_held_rows(session, held)


def record_mappings_in_force(settings: Settings, snapshot_id: str) -> int:
    """After a publish: the mapping rows it was built with, for the console's mappings page
    (which must not wait for the warehouse a running pipeline holds)."""
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.mappings import record_mappings
    from moatmetrics.warehouse.connection import warehouse_connection
    from moatmetrics.warehouse.mapping_tables import mapping_rows

    with warehouse_connection(settings) as con:
        rows = mapping_rows(con)
    with session_scope(settings, write=True) as session:
        return record_mappings(session, rows, snapshot_id)


def report_publish(snapshot_id: str | None, outcome: str, details: dict[str, Any]) -> None:
    record_pipeline_event(
        "pipeline.publish", outcome, target=f"snapshots/{snapshot_id or '-'}", details=details
    )


def record_unaudited_publishes(storage: Storage) -> list[str]:
    """Record ``pipeline.publish`` for each published snapshot the audit log has no entry for.

    The publish entry is written after the `current` pointer moves; a run killed between the
    two (kill -9, out of memory) published a snapshot the log does not show. The next publish
    calls this first, so every published snapshot has its entry; a late one says so
    (``recorded_late``) and carries the snapshot's own creation time. Returns the ids recorded.
    """
    from sqlalchemy import select

    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import AuditEntry

    published = storage.list_snapshots()
    if not published:
        return []
    with session_scope(storage.settings) as session:
        audited = set(
            session.scalars(
                select(AuditEntry.target).where(
                    AuditEntry.action == "pipeline.publish", AuditEntry.outcome == "ok"
                )
            )
        )
    missing = [s for s in published if f"snapshots/{s.snapshot_id}" not in audited]
    for snapshot in missing:
        details = {
            "row_counts": snapshot.row_counts,
            "uploads_included": len(snapshot.upload_ids),
            "recorded_late": True,
            "published_at": snapshot.created_at,
            "reason": "the publishing run ended before it recorded this publish",
        }
        report_publish(snapshot.snapshot_id, "ok", details)
    return [s.snapshot_id for s in missing]


def prune_snapshots(
    context: dg.AssetExecutionContext, storage: Storage, bi_url: str | None = None
) -> None:
    """Apply MOATMETRICS_SNAPSHOT_KEEP after a publish (audited under ``pipeline``).

    A failure is logged but does not fail the step: the new snapshot is published and served
    already, and the next run tries again.
    """
    keep = storage.settings.snapshot_keep
    if keep is None:
        return
    where = "postgres" if bi_url else "snapshots"
    try:
        removed = prune_audited(storage, keep, PIPELINE, bi_url)
    except Exception as exc:  # psycopg.Error (a lock timeout), OSError; names no password
        context.log.warning(f"could not remove old snapshots ({where}): {exc}")
        return
    if removed:
        context.log.info(f"removed {len(removed)} old snapshot(s) ({where}): {', '.join(removed)}")
