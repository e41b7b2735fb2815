"""Runs after uploads coalesce; the landing sensor asks for a run only for new content."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

import pytest
from checkout import REPO_ROOT

from moatmetrics.appdb.uploads import record_ingest_result, warehouse_upload_id
from moatmetrics.contract.landing import sha256_of
from moatmetrics.ingest.loader import UploadResult
from moatmetrics.run_lock import QUEUED_LOCK
from moatmetrics.settings import Settings
from moatmetrics.upload_runs import request_run


def test_a_queued_run_absorbs_the_next_upload(home: Settings) -> None:
    with open(home.home / QUEUED_LOCK, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        done = subprocess.run(
            [sys.executable, "-m", "moatmetrics.runs"],
            cwd=REPO_ROOT, env={**os.environ, "MOATMETRICS_HOME": str(home.home)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0
    assert "already queued" in done.stdout


def test_no_run_when_switched_off(home: Settings) -> None:
    import dataclasses

    assert request_run(dataclasses.replace(home, run_on_upload=False)) is False


@pytest.mark.usefixtures("dbt_manifest")
def test_landing_sensor(home: Settings) -> None:
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.sensors import landing_sensor

    repository = defs.get_repository_def()
    landed = home.landing_dir / "clients.csv"
    landed.write_text("client_id,client_name\nC1,Acme\n")
    with dg.instance_for_test() as instance:

        def tick(cursor: str | None = None) -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance, repository_def=repository, cursor=cursor
            )
            return landing_sensor(context)

        first = tick()
        (request,) = first.run_requests
        assert request.run_key.startswith("landing-")
        assert tick(first.cursor).run_requests[0].run_key == request.run_key  # same files

        with open(home.home / QUEUED_LOCK, "a+") as lock:  # an upload-triggered run waits
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            assert "queued or running" in tick(first.cursor).skip_reason.skip_message

        sha = sha256_of(landed)
        record_ingest_result(
            UploadResult(landed.name, "clients", "accepted", warehouse_upload_id(sha)), [], home
        )
        done = tick(first.cursor)
        assert not done.run_requests and "no new content" in done.skip_reason.skip_message
