"""One poisoned file in the landing area never stops the good files beside it from publishing.

Real pipeline runs (Dagster, dbt, DuckDB, the app database) over a home with the demo data plus
files that used to raise out of the ingest step: before issue 20 the run failed, the HTTP
upload stayed "received", and every later run failed the same way until someone deleted the
file. Now each poisoned file is rejected with its reason, moved to the quarantine folder, and
the run publishes the rest.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from bad_files import bare_ampersand_workbook, million_keys, one_huge_row
from sqlalchemy import select

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import Upload
from moatmetrics.demo_data import generate
from moatmetrics.settings import Settings
from moatmetrics.snapshots import current_snapshot
from orchestration.pipeline import run_pipeline

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def _records(settings: Settings) -> dict[str, Upload]:
    with session_scope(settings) as session:
        rows = session.scalars(select(Upload)).all()
        session.expunge_all()
    return {row.stored_name: row for row in rows}


def test_poisoned_files_are_quarantined_and_the_good_files_publish(
    home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from api.upload_intake import take_upload

    # This test runs the pipeline itself: no detached upload-triggered run beside it.
    monkeypatch.setenv("MOATMETRICS_RUN_ON_UPLOAD", "0")
    home = dataclasses.replace(home, run_on_upload=False)  # the intake reads the settings
    generate(tmp_path / "demo")
    for path in (tmp_path / "demo").glob("*.csv"):
        shutil.copy(path, home.landing_dir / path.name)
    million_keys(home.landing_dir / "expenses_extra.json")
    one_huge_row(home.landing_dir / "expenses_late.csv")
    # Over the size limit: refused before anything says what it holds (no raw table lists it;
    # the run's summary must still name it). The largest file above is 35 MB.
    monkeypatch.setenv("MOATMETRICS_MAX_UPLOAD_BYTES", str(48 * 2**20))
    (home.landing_dir / "time_entries_export.csv").write_bytes(b"x" * (50 * 2**20))
    # The same kind of file through the HTTP intake: recorded "received", landed for the run.
    taken = take_upload(
        home, Actor("tests"), io.BytesIO(bare_ampersand_workbook()), "clients_fix.xlsx", None
    )
    assert taken.upload.status == "received"
    http_name = taken.upload.stored_name
    poisoned = {"expenses_extra.json", "expenses_late.csv", "time_entries_export.csv", http_name}

    outcome = run_pipeline(home)

    assert outcome.success, outcome.summary()
    assert outcome.published is not None
    assert outcome.published.row_counts["client_profitability"] > 0
    assert not outcome.failed_checks  # quarantined files warn, they do not block
    landed = {p.name for p in home.landing_dir.iterdir()}
    assert not poisoned & landed
    reasons = {
        "expenses_extra.json": "the records have 1,000,002 different keys (limit 1,000)",
        "expenses_late.csv": "row 2 is 34,603,",
        http_name: "sheet 'clients' could not be read",
        "time_entries_export.csv": "the file is 52,428,800 bytes, over the 50,331,648-byte limit",
    }
    by_file = {u["file"]: u for u in outcome.uploads}
    records = _records(home)
    for name, reason in reasons.items():
        assert by_file[name]["status"] == "rejected"
        assert reason in by_file[name]["message"]
        assert f"{name}: rejected — {by_file[name]['message']}" in outcome.summary()
        (moved,) = home.quarantine_dir.glob(f"*-{name}")
        sidecar = json.loads(moved.with_name(moved.name + ".reason.txt").read_text())
        assert reason in sidecar["reason"] and sidecar["file"] == name
        record = records[name]
        assert record.status == "rejected", (name, record.status)
        assert reason in record.message
        assert f"quarantine/{moved.name}" in record.message
        assert any("moved to quarantine/" in note for note in json.loads(record.notes))
    assert records[http_name].id == taken.upload.id  # the HTTP record itself was completed
    good = {p.name for p in (tmp_path / "demo").glob("*.csv")}
    assert {records[name].status for name in good} == {"accepted"}

    # Nothing wedges: the next run with a new good file publishes again.
    served = current_snapshot(home).snapshot_id
    (home.landing_dir / "clients_new.csv").write_text(
        "client_id,client_name,industry\nC-NEW,Newco Dental,dental\n"
    )
    again = run_pipeline(home)
    assert again.success, again.summary()
    assert again.published, again.summary()
    assert again.published.snapshot_id != served
    con = duckdb.connect(str(again.published.path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM marts.client_profitability").fetchone()[0] > 0
    finally:
        con.close()
