"""`moatmetrics backup` while the API serves mart reads (each one an audit entry), then
`moatmetrics restore` into an empty home: the same marts, a verifying audit chain, and every
refusal (a damaged backup, a home that holds data, a folder that is not empty) said in one
line before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import httpx
import pytest
from built_homes import BuiltHome, copy_home
from serving import served_api

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import create_key
from moatmetrics.marts import PUBLISHED_MARTS

MOATMETRICS = str(Path(sys.executable).with_name("moatmetrics"))


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOATMETRICS_HOME": str(home), "DO_NOT_TRACK": "1"}
    return subprocess.run(
        [MOATMETRICS, *args], env=env, capture_output=True, text=True, timeout=300
    )


def _marts(home: Path) -> dict[str, list[tuple]]:
    current = (home / "snapshots" / "CURRENT").read_text().strip()
    with duckdb.connect(str(home / "snapshots" / f"{current}.duckdb"), read_only=True) as con:
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        return {
            name: con.execute(f'select * from marts."{name}" order by all').fetchall()
            for name in sorted(tables)
        }


class MartReads:
    """Reads mart pages over HTTP in a thread until stopped; counts answers by status."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as http:
            while not self.stop.is_set():
                for mart in ("client_profitability", "staff_utilization"):
                    page = http.get(f"/api/v1/marts/{mart}", params={"limit": 50})
                    self.statuses.append(page.status_code)


@pytest.fixture
def served_home(tmp_path: Path, demo_home: BuiltHome):
    home = tmp_path / "home"
    settings = copy_home(demo_home, home).settings
    with session_scope(settings, write=True) as session:
        key = create_key(session, Actor("tests"), "backup-reader", "viewer")[1]
    with served_api(home, tmp_path / "server.log") as url:
        yield home, url, key


def test_backup_under_load_restores_the_same_marts_and_a_verifying_audit_log(
    tmp_path: Path, served_home
) -> None:
    home, url, key = served_home
    backup = tmp_path / "backup"
    reads = MartReads(url, key)
    reads.thread.start()
    try:
        while len(reads.statuses) < 20:  # the load is on before the backup starts
            reads.stop.wait(0.05)
        made = _cli(home, "backup", "--to", str(backup), "--include-secrets")
        served_during_backup = len(reads.statuses)
    finally:
        reads.stop.set()
        reads.thread.join(timeout=120)
    assert made.returncode == 0, made.stderr
    assert set(reads.statuses) == {200} and served_during_backup >= 20
    assert (backup / "backup.json").exists() and (backup / "app.db").exists()

    restored = tmp_path / "restored"
    done = _cli(restored, "restore", "--from", str(backup))
    assert done.returncode == 0, done.stderr
    assert "audit chain: valid" in done.stdout
    assert _marts(restored) == _marts(home)
    assert _marts(restored)  # the marts exist
    verified = _cli(restored, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    entries = _cli(restored, "audit", "export", "--format", "jsonl")
    assert entries.returncode == 0, entries.stderr
    actions = [json.loads(line)["action"] for line in entries.stdout.splitlines() if line]
    assert actions[-1] == "backup.restore"  # the restore, on top of the chain it restored
    assert "backup.create" not in actions  # written after the copy: in the next backup
    assert actions.count("marts.read") >= 1

    again = _cli(restored, "restore", "--from", str(backup))
    assert again.returncode == 1 and "already holds data" in again.stderr
    not_empty = _cli(home, "backup", "--to", str(backup))
    assert not_empty.returncode == 1 and "is not empty" in not_empty.stderr

    archived = sorted((backup / "uploads").iterdir())[0]
    archived.write_bytes(archived.read_bytes() + b"\n")
    damaged = _cli(tmp_path / "other", "restore", "--from", str(backup))
    assert damaged.returncode == 1
    assert f"{archived} differs from the checksum" in damaged.stderr
    assert not (tmp_path / "other" / "app.db").exists()  # nothing was written


def test_marts_are_the_registry(demo_home: BuiltHome) -> None:
    """The restore comparison reads every mart the registry publishes."""
    assert set(PUBLISHED_MARTS) <= set(_marts(demo_home.settings.home))
