"""Optional: after a publish, the new snapshot is copied into PostgreSQL for BI tools.

Set MOATMETRICS_PUBLISH_POSTGRES_URL (a PostgreSQL database of its own, not the dbt warehouse)
and every run that publishes also runs `moatmetrics snapshots to-postgres`: schema
`snapshot_<id>`, the `marts` views switched to it in one transaction, readable by the role
`moatmetrics_reader` (docs/operations.md); MOATMETRICS_SNAPSHOT_KEEP bounds the copies kept
there as it bounds the snapshots. Unset, the asset materialises nothing.

A failure here fails the run, but the DuckDB snapshot is already published and served.
"""

import os

import dagster as dg

from moatmetrics.seam.base import Storage
from moatmetrics.warehouse.postgres import publish_snapshot_to_postgres
from orchestration.app_events import prune_snapshots

PUBLISH_URL_ENV = "MOATMETRICS_PUBLISH_POSTGRES_URL"


@dg.asset(
    key=dg.AssetKey(["published", "postgres"]),
    deps=[dg.AssetKey(["published", "snapshot"])],
    group_name="publish",
    kinds={"postgres"},
    output_required=False,
    description="The published snapshot copied into PostgreSQL (schema snapshot_<id>, views in "
    f"schema marts) when {PUBLISH_URL_ENV} is set.",
)
def published_postgres(context: dg.AssetExecutionContext, storage: dg.ResourceParam[Storage]):
    url = os.environ.get(PUBLISH_URL_ENV)
    if not url:
        context.log.info(f"{PUBLISH_URL_ENV} is not set: no copy into PostgreSQL")
        return
    if storage.name == "postgres":
        context.log.info("PostgreSQL mode: the snapshot was published into PostgreSQL already")
        return
    snapshot = storage.current_snapshot()
    if snapshot is None or snapshot.path is None:
        raise RuntimeError("no published snapshot to copy into PostgreSQL")
    done = publish_snapshot_to_postgres(snapshot.path, snapshot.snapshot_id, url)
    context.log.info(f"snapshot {done.snapshot_id} copied into PostgreSQL schema {done.schema}")
    prune_snapshots(context, storage, bi_url=url)
    yield dg.MaterializeResult(
        metadata={
            "snapshot_id": done.snapshot_id,
            "schema": done.schema,
            **{f"rows_{mart}": dg.MetadataValue.int(n) for mart, n in done.row_counts.items()},
        }
    )
