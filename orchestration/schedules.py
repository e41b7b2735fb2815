"""The daily rebuild: one schedule for the whole asset graph, with run retries.

The job (`moatmetrics_pipeline`) is the whole asset graph, the same one `moatmetrics run`
executes in-process. Runs started by the Dagster daemon (this schedule, the landing sensor, a
launch from the UI) go through the instance's run queue, which the shipped `dagster.yaml`
limits to one run at a time, so two warehouse writers never overlap; the warehouse file lock
(`moatmetrics.run_lock.warehouse_lock`) serialises them with CLI and upload-triggered runs.

Transient failures: a run whose worker process dies (killed, out of memory, machine restart,
lost connection to Dagster's run storage) is retried by the daemon, up to `RUN_MAX_RETRIES`
times, from the failed step (`dagster/retry_strategy: FROM_FAILURE`). Failures of a step
itself (a rejected file, a failed dbt test) are not retried: they are data problems that a
second attempt would only repeat (`run_retries.retry_on_asset_or_op_failure: false` in
`dagster.yaml`).

Off by default like the sensor (uploads already start runs); turn it on in the UI or with
`dagster schedule start daily_pipeline -w workspace.yaml`. The cron expression and time zone
come from MOATMETRICS_SCHEDULE_CRON (default 02:00 every day) and MOATMETRICS_SCHEDULE_TIMEZONE
(default UTC).

A tick with nothing new since the current snapshot (no new file, correction, review decision,
setting or code: `moatmetrics.run_inputs`) is skipped with that reason, so a quiet day costs a
fingerprint, not a rebuild; a run launched from the UI always runs.
"""

from __future__ import annotations

import os

import dagster as dg

from moatmetrics.run_inputs import unchanged_since_publish
from moatmetrics.run_lock import pipeline_run_active
from moatmetrics.settings import get_settings
from moatmetrics.storage.configured import storage_for

JOB_NAME = "moatmetrics_pipeline"
SCHEDULE_NAME = "daily_pipeline"
DEFAULT_CRON = "0 2 * * *"
RUN_MAX_RETRIES = 2
RUN_RETRY_TAGS = {
    "dagster/max_retries": str(RUN_MAX_RETRIES),
    "dagster/retry_strategy": "FROM_FAILURE",
}

pipeline_job = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Ingest the landing folder, build the marts with dbt, score trust, publish.",
    tags=RUN_RETRY_TAGS,
)


@dg.schedule(
    name=SCHEDULE_NAME,
    job=pipeline_job,
    cron_schedule=os.environ.get("MOATMETRICS_SCHEDULE_CRON") or DEFAULT_CRON,
    execution_timezone=os.environ.get("MOATMETRICS_SCHEDULE_TIMEZONE") or "UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Rebuilds the marts and publishes a snapshot once a day.",
)
def daily_pipeline(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    settings = get_settings()
    if pipeline_run_active(settings):
        return dg.SkipReason("an upload-triggered pipeline run is queued or running")
    unchanged = unchanged_since_publish(
        storage_for(settings), wait_s=5.0
    )  # a run holding it: ask anyway
    if unchanged is not None:
        return dg.SkipReason(unchanged.reason())
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"daily-{tick:%Y-%m-%d}" if tick else None,
        tags={"moatmetrics/trigger": "schedule"},
    )
