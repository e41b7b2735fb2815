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

from moatmetrics.settings import REPO_ROOT

HANDMADE = Path(__file__).parents[1] / "fixtures" / "handmade"
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
                request_id = f"w{worker}-{index}-{uuid.uuid4().hex[:8]}"
                response = http.get(PATHS[index % len(PATHS)], headers={"X-Request-ID": request_id})
                with lock:
                    sent.append(request_id)
                    if response.status_code != 200:
                        failures.append(f"{request_id}: {response.status_code} {response.text}")
                index += 1

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "moatmetrics.cli", "run"],
            cwd=REPO_ROOT, env={**os.environ, **backend.env(home)},
            capture_output=True, text=True, timeout=540,
        )  # fmt: skip
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
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
    assert interleaved, "the API wrote nothing while the pipeline was writing"
    assert len(sent) > 50
