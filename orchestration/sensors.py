"""A sensor on the landing folder, for deployments that run the Dagster daemon.

Every tick it hashes the landing files (a cursor remembers the hash per path, size and mtime,
so unchanged files are not read again) and asks for a run of the whole asset graph when a file
holds content the app database has no ingest outcome for. The run key is derived from the sorted
hashes of those files, so one set of new files starts one run however often the sensor ticks.

Off by default: the API already starts a run after each HTTP upload (`moatmetrics.upload_runs`).
Turn the sensor on in the Dagster UI for files copied into the landing folder by other means,
and set MOATMETRICS_RUN_ON_UPLOAD=0 if it should be the only trigger. It skips a tick while an
upload-triggered run is queued or running, so the two never write the warehouse at once.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from moatmetrics.contract.landing import landing_files, sha256_of
from moatmetrics.run_lock import pipeline_run_active
from moatmetrics.settings import Settings, get_settings


def _hashes(files: list[Path], cursor: dict[str, list]) -> dict[str, list]:
    """path -> [size, mtime_ns, sha256], reusing the cursor's hash when the file is unchanged."""
    seen: dict[str, list] = {}
    for path in files:
        stat = path.stat()
        previous = cursor.get(str(path))
        if previous and previous[0] == stat.st_size and previous[1] == stat.st_mtime_ns:
            seen[str(path)] = previous
        else:
            seen[str(path)] = [stat.st_size, stat.st_mtime_ns, sha256_of(path)]
    return seen


def new_landing_content(settings: Settings, cursor: dict[str, list]) -> tuple[list[str], dict]:
    """SHA-256 of landing files without an ingest outcome, and the updated cursor."""
    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.uploads import processed_upload_ids, warehouse_upload_id

    seen = _hashes(landing_files(settings), cursor)
    with session_scope(settings) as session:
        processed = processed_upload_ids(session)
    hashes = sorted({sha for _, _, sha in seen.values()})
    return [sha for sha in hashes if warehouse_upload_id(sha) not in processed], seen


@dg.sensor(
    name="landing_sensor",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the pipeline when files with new content appear in the landing folder.",
)
def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = get_settings()
    cursor = json.loads(context.cursor) if context.cursor else {}
    fresh, seen = new_landing_content(settings, cursor)
    if not fresh:
        return dg.SensorResult(
            skip_reason="no new content in the landing folder", cursor=json.dumps(seen)
        )
    if pipeline_run_active(settings):
        return dg.SensorResult(
            skip_reason="an upload-triggered pipeline run is queued or running",
            cursor=json.dumps(seen),
        )
    run_key = "landing-" + hashlib.sha256(",".join(fresh).encode()).hexdigest()[:32]
    request = dg.RunRequest(run_key=run_key, tags={"moatmetrics/new_files": str(len(fresh))})
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(seen))
