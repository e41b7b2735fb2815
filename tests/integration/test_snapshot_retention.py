"""Snapshot retention: `moatmetrics snapshots prune` and MOATMETRICS_SNAPSHOT_KEEP after publish.

Real components: snapshot files written by `moatmetrics.snapshots.publish` from a small
warehouse, the CLI in a subprocess, the publish asset materialised by Dagster, the audit log.
(PostgreSQL: `test_snapshots_postgres.py`.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest
from checkout import REPO_ROOT
from snapshot_warehouse import MARTS, small_warehouse
from sqlalchemy import select

from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry
from moatmetrics.settings import Settings
from moatmetrics.snapshots import (
    POINTER_NAME,
    current_snapshot_id,
    list_snapshots,
    prune,
    publish,
)


def _publish(home: Settings, count: int) -> list[str]:
    published = []
    for generation in range(count):
        small_warehouse(home, generation)
        published.append(publish(home, MARTS).snapshot_id)
    return published


def _cli(home: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moatmetrics.cli", "snapshots", *args],
        cwd=REPO_ROOT, env={**os.environ, "MOATMETRICS_HOME": str(home.home), **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _prune_entries(home: Settings) -> list[AuditEntry]:
    with session_scope(home) as session:
        query = select(AuditEntry).where(AuditEntry.action == "snapshots.prune")
        return list(session.scalars(query.order_by(AuditEntry.seq)).all())


def test_cli_prune_keeps_the_newest_and_a_reader_of_a_removed_one_reads_on(
    home: Settings,
) -> None:
    published = _publish(home, 4)
    oldest = home.snapshots_dir / f"{published[0]}.duckdb"
    reader = duckdb.connect(str(oldest), read_only=True)  # an API worker still on it
    try:
        dry = _cli(home, "prune", "--keep", "2", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines() == [f"would remove {i}" for i in published[:2]]
        assert [s.snapshot_id for s in list_snapshots(home)] == published
        done = _cli(home, "prune", "--keep", "2")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[:2] == [f"removed {i}" for i in published[:2]]
        assert [s.snapshot_id for s in list_snapshots(home)] == published[2:]
        assert current_snapshot_id(home) == published[3]
        left = sorted(p.name for p in home.snapshots_dir.iterdir())
        assert left == sorted([POINTER_NAME] + [f"{i}.{ext}" for i in published[2:]
                                                for ext in ("duckdb", "json")])  # fmt: skip
        # The file is gone from the folder, not from the reader that has it open.
        assert reader.execute("SELECT count(*) FROM marts.client_profitability").fetchone() == (3,)
    finally:
        reader.close()
    entry = _prune_entries(home)[-1]
    assert entry.actor.startswith("cli:") and entry.outcome == "ok"
    assert json.loads(entry.details) == {"keep": 2, "removed": published[:2]}

    again = _cli(home, "prune", "--keep", "2")
    assert again.returncode == 0 and "0 snapshot(s) removed" in again.stdout


def test_a_failed_prune_says_why_and_is_audited(home: Settings) -> None:
    published = _publish(home, 2)
    done = _cli(home, "prune", "--keep", "1", "--url", "postgresql://nobody@127.0.0.1:1/bi")
    assert done.returncode == 1 and "could not remove old snapshots" in done.stderr
    entry = _prune_entries(home)[-1]
    assert (entry.outcome, entry.target) == ("failed", "postgres")
    assert "127.0.0.1" in json.loads(entry.details)["error"]
    assert [s.snapshot_id for s in list_snapshots(home)] == published  # the files untouched


def test_prune_never_removes_the_current_snapshot_and_clears_leftover_files(
    home: Settings,
) -> None:
    published = _publish(home, 3)
    (home.snapshots_dir / POINTER_NAME).write_text(published[0] + "\n")  # an older one served
    # A file an interrupted prune left behind: its manifest is gone.
    leftover = home.snapshots_dir / "20000101T000000000000Z-abcdef.duckdb"
    leftover.write_bytes(b"")
    building = home.snapshots_dir / f".{published[2]}x.duckdb.building"  # a publish under way
    building.write_bytes(b"")

    assert prune(home, 1) == [published[1]]
    assert [s.snapshot_id for s in list_snapshots(home)] == [published[0], published[2]]
    assert current_snapshot_id(home) == published[0]
    assert not leftover.exists() and building.exists()
    with pytest.raises(ValueError, match="at least 1"):
        prune(home, 0)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--keep", "0"), {}, "give --keep N (at least 1)"),
        ((), {}, "give --keep N (at least 1)"),
        ((), {"MOATMETRICS_SNAPSHOT_KEEP": "thirty"}, "MOATMETRICS_SNAPSHOT_KEEP='thirty' must"),
    ],
)
def test_prune_refuses_a_count_that_is_not_one_or_more(
    home: Settings, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    published = _publish(home, 2)
    done = _cli(home, "prune", *args, **env)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert [s.snapshot_id for s in list_snapshots(home)] == published


def test_publish_asset_applies_the_keep_setting(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from orchestration.assets.publish import published_snapshot
    from orchestration.resources import storage_resource

    published = _publish(home, 3)
    small_warehouse(home, 9)
    with duckdb.connect(str(home.warehouse_path)) as con:  # the asset publishes every mart
        con.execute("CREATE TABLE marts.license_utilization (client_id VARCHAR, sku VARCHAR)")
    monkeypatch.setenv("MOATMETRICS_SNAPSHOT_KEEP", "2")
    resources = {"storage": storage_resource}
    result = dg.materialize([published_snapshot], resources=resources)
    assert result.success
    newest = current_snapshot_id(home)
    assert newest not in published
    assert [s.snapshot_id for s in list_snapshots(home)] == [published[2], newest]
    entry = _prune_entries(home)[-1]
    assert entry.actor == "pipeline" and entry.target == "snapshots"
    assert json.loads(entry.details) == {"keep": 2, "removed": published[:2]}

    monkeypatch.delenv("MOATMETRICS_SNAPSHOT_KEEP")  # unset: every snapshot is kept
    assert dg.materialize([published_snapshot], resources=resources).success
    assert len(list_snapshots(home)) == 3
