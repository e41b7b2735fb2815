"""Ingest: every new export in the landing area becomes rows of the raw tables.

One op materialises the six raw tables (one asset per entity) because the landing area is
scanned once: a file whose name names no entity must still be recorded and reported, not
skipped. Each raw table has a blocking check: a file of that entity rejected in this run stops
the marts from being rebuilt, so the last published snapshot stays current. A file that cannot
be read at all is quarantined instead (moved out of the landing area, reported with its
reason) and does not block: the files beside it still publish.
"""

import dagster as dg

from moatmetrics.appdb.uploads import warehouse_upload_id
from moatmetrics.contract.entities import ENTITY_ORDER, load_order
from moatmetrics.contract.landing import new_landing_files
from moatmetrics.ingest.loader import Ingestor, UploadResult, refresh_row_warnings
from moatmetrics.ingest.override_copy import CopySummary, copy_active_overrides
from moatmetrics.ingest.quarantine import quarantine
from moatmetrics.quality.suites import preload_in_background
from moatmetrics.run_inputs import record_run_inputs, run_inputs
from moatmetrics.seam.base import Storage
from moatmetrics.settings import Settings, get_settings
from moatmetrics.warehouse.connection import warehouse_connection
from orchestration.app_events import (
    apply_retractions,
    audited,
    declared_upload_periods,
    report_upload,
)
from orchestration.checks.contract_suite import check_result, check_spec

RAW_KEYS = {entity: dg.AssetKey(["raw", entity]) for entity in ENTITY_ORDER}
#: The analysts' active corrections, copied from the app database by the same step (dbt's
#: source `raw.row_overrides`): an asset of this step, so the job runs the whole graph.
OVERRIDES_KEY = dg.AssetKey(["raw", "row_overrides"])
#: The accepted rows with a data-quality warning (dbt's source `raw.row_warnings`, counted by
#: the evidence models), rebuilt by the same step.
WARNINGS_KEY = dg.AssetKey(["raw", "row_warnings"])


def ingest_landing(
    settings: Settings, storage: Storage
) -> tuple[list[UploadResult], dict[str, int], CopySummary, int]:
    """Apply retractions, then ingest landing files not seen before (by SHA-256), referenced
    entities first, then copy the analysts' active corrections into `raw.row_overrides`
    (moatmetrics/ingest/override_copy.py).

    Returns the results, the row count of every raw table afterwards, the corrections copied
    and the number of accepted rows with a data-quality warning.
    """
    results: list[UploadResult] = []
    with warehouse_connection(settings) as con:
        ingestor = Ingestor(con, settings)
        new = new_landing_files(con, settings)
        if new:  # GX only validates files; a run with none new does not import it (3-5 s)
            preload_in_background()
        apply_retractions(ingestor, settings)  # retracted since the last run: rows leave raw
        periods = declared_upload_periods(settings)  # declared by HTTP uploaders
        for path, sha in sorted(new, key=lambda item: (load_order(item[0].stem), item[0].name)):
            period = periods.get(warehouse_upload_id(sha))
            result = ingestor.ingest_file(path, uploaded_by="landing", period=period)
            if result.unreadable:
                quarantine(con, path, result, settings)
            results.append(report_upload(con, result))
        corrections = copy_active_overrides(con, settings)  # dbt applies them
        warned_rows = refresh_row_warnings(con)  # dbt's evidence models count them
        # What dbt is handed, fingerprinted: publish records it beside the snapshot, and the
        # next run with nothing new ends before it starts (moatmetrics/run_inputs.py).
        record_run_inputs(con, run_inputs(con, settings, corrections.digest))
        counts = {
            entity: con.execute(f"SELECT count(*) FROM raw.{entity}").fetchone()[0]
            for entity in ENTITY_ORDER
        }
        storage.after_ingest(con)  # PostgreSQL mode: `raw` copied there, dbt builds from it
    return results, counts, corrections, warned_rows


def _describe(result: UploadResult) -> str:
    return f"{result.file_name}: {result.status} — {result.message}"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="ingest",
            description=f"Raw {entity} rows: for every natural key, the newest upload's row.",
            kinds={"duckdb"},
        )
        for entity, key in RAW_KEYS.items()
    ]
    + [
        dg.AssetSpec(
            OVERRIDES_KEY,
            group_name="ingest",
            description="The analysts' active corrections, copied from the app database on"
            " every run; dbt applies them (docs/trust.md#corrections).",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            WARNINGS_KEY,
            group_name="ingest",
            description="The accepted rows that carry a data-quality warning, by upload and"
            " row; dbt's evidence models count them (docs/trust.md).",
            kinds={"duckdb"},
        ),
    ],
    check_specs=[check_spec(key, entity) for entity, key in RAW_KEYS.items()],
)
def raw_tables(context: dg.AssetExecutionContext, storage: dg.ResourceParam[Storage]):
    settings = get_settings()
    results, counts, corrections, warned_rows = ingest_landing(settings, storage)
    if corrections.copied:
        context.log.info(
            f"{corrections.copied} correction(s) to apply; row not found in the latest data:"
            f" {corrections.row_not_found or 'none'}"
        )
    unassigned = [r for r in results if r.entity not in RAW_KEYS]
    for r in results:
        (context.log.info if r.ok else context.log.error)(_describe(r))
    # Every table's materialization first, then the verdicts: a failing blocking check stops
    # the step, and the tables that did load must still be recorded.
    for entity, key in RAW_KEYS.items():
        mine = [r for r in results if r.entity == entity]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows": dg.MetadataValue.int(counts[entity]),
                "uploads_this_run": dg.MetadataValue.int(len(mine)),
                "rows_loaded_this_run": dg.MetadataValue.int(sum(r.rows_loaded for r in mine)),
                "uploads": dg.MetadataValue.json(
                    [
                        {
                            "file": r.file_name,
                            "status": r.status,
                            "message": r.message,
                            "quality_score": r.quality_score,
                        }
                        for r in mine
                    ]
                ),
            },
        )
    yield dg.MaterializeResult(
        asset_key=OVERRIDES_KEY,
        metadata={
            "active_corrections": dg.MetadataValue.int(corrections.copied),
            "row_not_found": dg.MetadataValue.json(corrections.row_not_found),
        },
    )
    yield dg.MaterializeResult(
        asset_key=WARNINGS_KEY, metadata={"warned_rows": dg.MetadataValue.int(warned_rows)}
    )
    for entity, key in RAW_KEYS.items():
        yield audited(check_result(key, [r for r in results if r.entity == entity], unassigned))
