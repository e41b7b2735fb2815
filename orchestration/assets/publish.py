"""Publish: after a good build, an immutable snapshot of the marts becomes current."""

import dagster as dg

from moatmetrics.appdb.reviews import stamp_published
from moatmetrics.marts import DBT_MARTS
from moatmetrics.run_inputs import record_published_inputs
from moatmetrics.run_lock import pause_point, warehouse_lock
from moatmetrics.seam.base import Storage
from moatmetrics.snapshots import remove_abandoned_building_files
from moatmetrics.warehouse.connection import warehouse_connection
from orchestration.app_events import (
    prune_snapshots,
    record_mappings_in_force,
    record_unaudited_publishes,
    report_held_rows,
    report_publish,
)
from orchestration.assets.insights import ACTIONS_KEY, ANOMALIES_KEY, FORECASTS_KEY
from orchestration.assets.trust import TRUST_KEYS

MART_KEYS = [dg.AssetKey(["marts", name]) for name in DBT_MARTS]


@dg.asset(
    key=dg.AssetKey(["published", "snapshot"]),
    deps=[*MART_KEYS, *TRUST_KEYS, ACTIONS_KEY, FORECASTS_KEY, ANOMALIES_KEY],
    group_name="publish",
    kinds={"duckdb"},
    description="A new read-only DuckDB file of the marts with their trust columns, the "
    "churn risk and the action list; the `current` pointer moves to it (PostgreSQL mode: a "
    "new schema snapshot_<id>, the marts views and the catalog switch to it). With "
    "MOATMETRICS_SNAPSHOT_KEEP set, older snapshots beyond that many are removed.",
)
def published_snapshot(
    context: dg.AssetExecutionContext, storage: dg.ResourceParam[Storage]
) -> dg.MaterializeResult:
    settings = storage.settings
    # Hold the writer lock so no ingest changes the warehouse while it is copied. Under it,
    # what a killed publish left is put right first: its half-written file goes (no live run
    # writes one without this lock), and a publish it made but did not record is recorded.
    try:
        with warehouse_lock(settings):
            for name in remove_abandoned_building_files(settings):
                context.log.warning(f"removed {name}, left by a publish that was killed")
            for snapshot_id in record_unaudited_publishes(storage):
                context.log.warning(f"recorded the publish of {snapshot_id} in the audit log")
            snapshot = storage.publish()
    except Exception as exc:
        report_publish(None, "failed", {"error": str(exc)[:2000]})
        raise
    pause_point("publish.unrecorded")  # crash tests: a kill here leaves the publish unrecorded
    stamped = stamp_published(snapshot.snapshot_id)  # review items of this run's numbers
    report_publish(
        snapshot.snapshot_id,
        "ok",
        {
            "row_counts": snapshot.row_counts,
            "uploads_included": len(snapshot.upload_ids),
            "review_items_stamped": stamped,
            "written": snapshot.written,
        },
    )
    context.log.info(
        f"published snapshot {snapshot.snapshot_id}: {snapshot.location} ({snapshot.written})"
    )
    with warehouse_connection(settings) as con:  # a rerun with nothing new can end early
        record_published_inputs(con, snapshot.snapshot_id)
    report_held_rows(settings, snapshot.snapshot_id)
    record_mappings_in_force(settings, snapshot.snapshot_id)
    prune_snapshots(context, storage)
    return dg.MaterializeResult(
        metadata={
            "snapshot_id": snapshot.snapshot_id,
            "location": snapshot.location,
            "uploads_included": dg.MetadataValue.int(len(snapshot.upload_ids)),
            "written": snapshot.written,
            **{f"rows_{mart}": dg.MetadataValue.int(n) for mart, n in snapshot.row_counts.items()},
        }
    )
