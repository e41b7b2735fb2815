"""Pipeline runs started by uploads: detached, serialised, coalesced.

`moatmetrics.runs` is the detached process (it sits above the pipeline, with the CLI); this
module is what the API and that process share, so the API never imports the pipeline.

`request_run` (called by the API after a file landed) starts ``python -m moatmetrics.runs``
in its own session, so the run survives the request and even an API restart. That process:

1. takes the *queued* lock without waiting; if another process holds it, a run is already
   queued that has not started yet and will see this file too, so it exits;
2. waits for the *running* lock (one run at a time: DuckDB allows one writer per file), then
   gives the queued lock up, so the next upload can queue exactly one more run;
3. runs `moatmetrics run` (ingest the landing folder, dbt build, publish);
4. settles HTTP uploads still marked `received` whose content the warehouse already knew
   (a file imported before by another way is skipped by the landing scan).

So at most one run executes and at most one waits, and every landed file is seen by a run
that starts after it landed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from moatmetrics.settings import Settings


def request_run(settings: Settings) -> bool:
    """Start a detached run for this home unless MOATMETRICS_RUN_ON_UPLOAD=0."""
    if not settings.run_on_upload:
        return False
    log_path = settings.home / "logs" / "upload-runs.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MOATMETRICS_HOME": str(settings.home)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moatmetrics.runs"],
            cwd=settings.home,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # Reap the child when it ends so it never lingers as a zombie of the API process.
    threading.Thread(target=process.wait, name="reap-pipeline-run", daemon=True).start()
    return True


def settle_known_uploads(settings: Settings) -> int:
    """Complete `received` uploads whose bytes the warehouse had imported before."""
    from sqlalchemy import select

    from moatmetrics.appdb.db import session_scope
    from moatmetrics.appdb.models import Upload
    from moatmetrics.appdb.uploads import RECEIVED, record_ingest_result, warehouse_problems
    from moatmetrics.ingest.loader import UploadResult
    from moatmetrics.warehouse.connection import warehouse_connection

    with session_scope(settings) as session:
        rows = session.execute(
            select(Upload.warehouse_upload_id, Upload.original_name).where(
                Upload.status == RECEIVED, Upload.warehouse_upload_id.is_not(None)
            )
        ).all()
    pending = {upload_id: name for upload_id, name in rows}
    if not pending or not settings.warehouse_path.exists():
        return 0
    settled = 0
    with warehouse_connection(settings) as con:
        marks = ", ".join("?" for _ in pending)
        known = con.execute(
            "SELECT upload_id, entity, status, rows_loaded FROM ingest.uploads"
            f" WHERE upload_id IN ({marks})",
            list(pending),
        ).fetchall()
        for upload_id, entity, status, rows_loaded in known:
            result = UploadResult(
                file_name=pending[upload_id],
                entity=entity,
                status="unchanged",
                upload_id=upload_id,
                rows_loaded=rows_loaded or 0,
                message=f"already imported before (that import was {status}); nothing changed",
            )
            record_ingest_result(result, warehouse_problems(con, upload_id), settings)
            settled += 1
    return settled
