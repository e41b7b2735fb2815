"""`moatmetrics rebuild --as-of`: the marts as they were at a moment, from the inputs of then.

The hand-made home publishes S1; then a later upload and a retraction of one of S1's uploads
change the marts (S2, S3). A rebuild as of S1's publish time, with the real command, publishes
a new snapshot whose marts equal S1's row for row (every column but the review status, which
follows today's decisions), and `--use` makes it current, audited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, build_home
from fixture_files import HANDMADE

from orchestration.pipeline import run_pipeline

MOATMETRICS = str(Path(sys.executable).with_name("moatmetrics"))
LATER_TIME = (
    "entry_id,staff_id,client_id,work_date,hours,billable,work_type,ticket_id,bill_rate\n"
    "T901,S001,C001,2025-01-08,5.00,true,remote_support,TK-901,150.00\n"
)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOATMETRICS_HOME": str(home), "DO_NOT_TRACK": "1"}
    return subprocess.run(
        [MOATMETRICS, *args], env=env, capture_output=True, text=True, timeout=900
    )


def _marts(snapshot: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
                " order by table_name"
            ).fetchall()
        ]
        marts = {}
        for name in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'marts' and table_name = ? order by ordinal_position",
                    [name],
                ).fetchall()
                if c != "review_status"
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            marts[name] = con.execute(
                f'select {listed} from marts."{name}" order by all'
            ).fetchall()
        return marts


def _run(built: BuiltHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOATMETRICS_HOME", str(built.settings.home))
    outcome = run_pipeline(built.settings)
    assert outcome.success and outcome.published, outcome.summary()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_rebuild_as_of_a_publish_equals_that_snapshot(
    tmp_path: Path, dbt_manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tmp_path / "files"
    shutil.copytree(HANDMADE, files)
    built = build_home(tmp_path / "home", files)
    home = built.settings.home
    first = json.loads(built.snapshot.with_suffix(".json").read_text())
    s1 = _marts(built.snapshot)

    (built.settings.landing_dir / "time_entries_later.csv").write_text(LATER_TIME)
    _run(built, monkeypatch)
    with duckdb.connect(str(built.settings.warehouse_path), read_only=True) as con:
        (expenses_upload,) = con.execute(
            "select upload_id from ingest.uploads where entity = 'expenses'"
        ).fetchone()
    retracted = _cli(home, "uploads", "retract", expenses_upload, "--reason", "wrong month")
    assert retracted.returncode == 0, retracted.stderr
    _run(built, monkeypatch)
    current = (home / "snapshots" / "CURRENT").read_text().strip()
    assert _marts(home / "snapshots" / f"{current}.duckdb") != s1  # the inputs did change

    done = _cli(home, "rebuild", "--as-of", first["created_at"], "--use")
    assert done.returncode == 0, done.stdout + done.stderr
    rebuilt_id = (home / "snapshots" / "CURRENT").read_text().strip()
    assert rebuilt_id not in (current, built.snapshot_id) and rebuilt_id in done.stdout
    assert _marts(home / "snapshots" / f"{rebuilt_id}.duckdb") == s1
    manifest = json.loads((home / "snapshots" / f"{rebuilt_id}.json").read_text())
    assert manifest["rebuilt_as_of"].startswith(first["created_at"][:19])
    assert not list(home.glob(".rebuild-*"))  # the scratch home is gone

    log = _cli(home, "audit", "export", "--format", "jsonl")
    entries = [json.loads(line) for line in log.stdout.splitlines() if line]
    rebuilt = [e for e in entries if e["target"] == f"snapshots/{rebuilt_id}"]
    assert [e["action"] for e in rebuilt] == ["pipeline.publish", "snapshots.use"]
    assert rebuilt[0]["actor"].startswith("cli:")
    assert _cli(home, "audit", "verify").returncode == 0

    too_early = _cli(home, "rebuild", "--as-of", "2001-01-01")
    assert too_early.returncode == 1 and "no upload had been ingested" in too_early.stderr
