"""Dagster definitions for unattended operation: the daily schedule, the landing sensor, run
retries and the one-run-at-a-time queue of the shipped instance configuration.

The landing sensor's own behaviour (cursor, run key, upload-triggered runs) is tested in
test_upload_runs.py; here: it is loaded with the schedule, and an empty landing folder asks
for nothing while a new file asks for a run of the whole graph.
"""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime

import dagster as dg
import pytest

from moatmetrics.run_lock import RUNNING_LOCK
from moatmetrics.settings import DAGSTER_INSTANCE_YAML, Settings

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def test_definitions_show_the_schedule_the_sensor_and_the_job() -> None:
    from orchestration.definitions import defs
    from orchestration.schedules import JOB_NAME, RUN_RETRY_TAGS, SCHEDULE_NAME

    repository = defs.get_repository_def()
    schedule = repository.get_schedule_def(SCHEDULE_NAME)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == JOB_NAME
    assert repository.has_sensor_def("landing_sensor")

    job = repository.get_job(JOB_NAME)
    assert {k: job.tags[k] for k in RUN_RETRY_TAGS} == RUN_RETRY_TAGS
    everything = set(repository.asset_graph.get_all_asset_keys())
    assert set(job.asset_layer.executable_asset_keys) == everything
    assert dg.AssetKey(["published", "snapshot"]) in everything


def test_schedule_requests_a_run_unless_an_upload_run_is_active(home: Settings) -> None:
    from orchestration.schedules import daily_pipeline

    tick = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        request = daily_pipeline(context)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == "daily-2026-03-04"
        assert request.tags["moatmetrics/trigger"] == "schedule"

        with open(home.home / RUNNING_LOCK, "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
            skipped = daily_pipeline(context)
        assert isinstance(skipped, dg.SkipReason)
        assert "queued or running" in skipped.skip_message


def test_landing_sensor_asks_for_a_run_only_when_a_file_lands(home: Settings) -> None:
    from orchestration.definitions import defs

    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def("landing_sensor")
    with dg.instance_for_test() as instance:

        def tick(cursor: str | None = None) -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance, repository_def=repository, cursor=cursor
            )
            return sensor(context)

        empty = tick()
        assert not empty.run_requests
        assert "no new content" in empty.skip_reason.skip_message

        (home.landing_dir / "staff.csv").write_text("staff_id,staff_name\nS1,Alice\n")
        landed = tick(empty.cursor)
        (request,) = landed.run_requests
        assert request.run_key.startswith("landing-")
        # The request targets the whole graph: ingest through publish.
        targeted = repository.get_job(sensor.job_name).asset_layer.executable_asset_keys
        assert set(targeted) == set(repository.asset_graph.get_all_asset_keys())


def test_shipped_instance_config(tmp_path) -> None:
    """The shipped dagster.yaml loads in Dagster 1.13: telemetry off, one run at a time, run
    retries for crashed runs only."""
    (tmp_path / "dagster.yaml").write_text(DAGSTER_INSTANCE_YAML.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.telemetry_enabled is False
        assert instance.nux_enabled is False  # no first-visit e-mail prompt in the UI
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_retries_enabled is True
        assert instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False
