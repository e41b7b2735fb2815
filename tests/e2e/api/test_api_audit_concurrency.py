"""The API and a real pipeline run append to the audit log at the same time: no entry is lost
and the chain stays valid."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from checkout import REPO_ROOT
from fixture_files import HANDMADE
from serving import wait_until
from sqlalchemy import func, select

from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry
from moatmetrics.run_lock import warehouse_lock

PATHS = ("/api/v1/me", "/api/v1/uploads", "/api/v1/snapshots", "/api/v1/marts")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("dbt_manifest")
def test_api_and_pipeline_write_the_audit_log_together(
    tmp_path: Path, start_server, backend
) -> None:
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    for path in HANDMADE.glob("*.csv"):
        shutil.copy(path, home / "landing" / path.name)
    server = start_server(home)

    sent: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with server.client("viewer") as http:
            index = 0
            while not stop.is_set():
                request(http, f"w{worker}", index)
                index += 1

    def request(http, worker: str, index: int) -> None:  # type: ignore[no-untyped-def]
        request_id = f"{worker}-{index}-{uuid.uuid4().hex[:8]}"
        response = http.get(PATHS[index % len(PATHS)], headers={"X-Request-ID": request_id})
        with lock:
            sent.append(request_id)
            if response.status_code != 200:
                failures.append(f"{request_id}: {response.status_code} {response.text}")

    settings = backend.settings(home)

    def pipeline_has_written() -> bool:
        assert run.poll() is None, "the pipeline run ended before it wrote to the audit log"
        with session_scope(settings) as session:
            statement = select(func.count()).where(AuditEntry.actor == "pipeline")
            return bool(session.scalar(statement))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "moatmetrics.cli", "run"],
            cwd=REPO_ROOT, env={**os.environ, **backend.env(home)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        # Forced interleaving: once the pipeline has written its first entries, the test takes
        # the warehouse's writer lock, which the pipeline needs before it can publish, and
        # makes 20 requests of its own; they are recorded between the pipeline's entries.
        wait_until(pipeline_has_written, step=0.05)
        with warehouse_lock(settings), server.client("viewer") as http:
            for index in range(20):
                request(http, "held", index)
        output, _ = run.communicate(timeout=540)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert run.returncode == 0, output
    assert not failures, failures[:5]

    with server.client("admin") as admin:
        report = admin.get("/api/v1/audit/verify").json()
        export = admin.get("/api/v1/audit/export", params={"format": "jsonl"}).text
    entries = [json.loads(line) for line in export.splitlines()]
    assert report["valid"] is True, report
    # The verify and export requests are themselves recorded after the walk.
    assert report["entries_checked"] == len(entries) - 2

    recorded = [e["request_id"] for e in entries if e["actor"].startswith("test-viewer-")]
    assert sorted(recorded) == sorted(sent), "an API request is missing or doubled in the log"
    pipeline = [e for e in entries if e["actor"] == "pipeline"]
    actions = [e["action"] for e in pipeline]
    assert actions.count("pipeline.ingest") == 6
    assert actions.count("pipeline.check") >= 6
    assert actions.count("pipeline.publish") == 1
    assert {e["outcome"] for e in pipeline if e["action"] == "pipeline.ingest"} == {"accepted"}
    first, last = pipeline[0]["seq"], pipeline[-1]["seq"]
    interleaved = [e for e in entries if first < e["seq"] < last and e["actor"] != "pipeline"]
    held = {e["request_id"] for e in interleaved if e["request_id"].startswith("held-")}
    assert len(held) == 20, "the requests made under the writer lock are not between the run's"
