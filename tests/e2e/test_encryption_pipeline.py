"""The demo MSP through the real pipeline with encryption at rest, against the same files plain.

One run in a home with `MOATMETRICS_ENCRYPTION_KEY_FILE` set: Great Expectations, dbt (its
plugin attaches the warehouse with the key), scoring and publishing all work on encrypted files;
the snapshot's marts equal the plain run's (`demo_home`) row for row; no file of the home that
holds data shows a client's name; the API serves the encrypted snapshot over HTTP; then the key
is rotated while that API keeps serving, a further run publishes under the new key, and a backup
restored into an empty home opens with it (and is refused, before copying anything, without
that key).

DuckDB writes encrypted files with OpenSSL from its httpfs extension, which the registries do
not carry for this DuckDB version, so the run writes with its built-in module
(`MOATMETRICS_DUCKDB_CRYPTO=mbedtls-unsafe`): the same file format and reading path.
"""

from __future__ import annotations

import csv
import os
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest
from built_homes import BuiltHome, build_home
from serving import start_api, stop_api

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import dispose_engines, session_scope
from moatmetrics.appdb.keys import create_key
from moatmetrics.at_rest.encryption import MAGIC, read_key_file, write_key_file
from moatmetrics.backup import BackupError, back_up, restore
from moatmetrics.settings import get_settings
from moatmetrics.storage.configured import storage_for

pytestmark = pytest.mark.slow


def _marts(snapshot: Path, key: str | None) -> dict[str, list[tuple]]:
    """Every table of the snapshot's `marts` schema, sorted, opened the documented way."""
    con = duckdb.connect()
    options = f"ENCRYPTION_KEY '{key}', READ_ONLY" if key else "READ_ONLY"
    con.execute(f"ATTACH '{snapshot}' AS snap ({options})")
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'snap'"
            " AND table_schema = 'marts' ORDER BY 1"
        ).fetchall()
    ]
    marts = {
        t: con.execute(f"SELECT * FROM snap.marts.{t} ORDER BY ALL").fetchall() for t in tables
    }
    con.close()
    return marts


def _client_names(files: Path) -> list[bytes]:
    with (files / "clients.csv").open(newline="") as handle:
        return [row["client_name"].encode() for row in csv.DictReader(handle)]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moatmetrics.cli", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_encrypted_home_end_to_end(
    demo_home: BuiltHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "keys" / "at-rest.key"
    write_key_file(key_file)
    monkeypatch.setenv("MOATMETRICS_ENCRYPTION_KEY_FILE", str(key_file))
    monkeypatch.setenv("MOATMETRICS_DUCKDB_CRYPTO", "mbedtls-unsafe")
    built = build_home(tmp_path / "home", demo_home.files)
    home = built.settings.home
    monkeypatch.setenv("MOATMETRICS_HOME", str(home))
    env = {**os.environ, "DO_NOT_TRACK": "1"}

    # Same marts as the plain run of the same files, row for row.
    plain = _marts(demo_home.snapshot, None)
    assert plain["client_profitability"] and plain["license_utilization"]
    assert _marts(built.snapshot, read_key_file(key_file).text) == plain

    # Nothing of the home that holds data reads in the clear.
    names = _client_names(demo_home.files)
    holding_data = [home / "warehouse.duckdb", built.snapshot, *(home / "uploads").iterdir()]
    assert len(holding_data) >= 8
    for path in holding_data:
        content = path.read_bytes()
        assert not any(name in content for name in names), path
    for path in (home / "uploads").iterdir():
        assert path.read_bytes().startswith(MAGIC), path
    with pytest.raises(duckdb.Error, match="without a key"):
        duckdb.connect(str(built.snapshot), read_only=True)
    key_text = read_key_file(key_file).text
    for log in home.rglob("*"):  # the key is never written into the home (logs, dbt target)
        if log.is_file() and log.suffix in (".log", ".json", ".txt", ".sql", ".yml", ""):
            assert key_text.encode() not in log.read_bytes(), log

    # The API serves the encrypted snapshot over HTTP, and keeps serving through a rotation.
    with session_scope(get_settings(), write=True) as session:
        api_key = create_key(session, Actor("tests"), f"enc-{secrets.token_hex(3)}", "viewer")[1]
    dispose_engines()
    process, url = start_api(env, tmp_path / "api.log")
    try:
        headers = {"Authorization": f"Bearer {api_key}"}
        page = httpx.get(f"{url}/api/v1/marts/client_profitability", headers=headers, timeout=30)
        assert page.status_code == 200, page.text
        assert page.json()["total"] == len(plain["client_profitability"])

        new_key = tmp_path / "keys" / "next.key"
        write_key_file(new_key)
        rotated = _cli(env, "encryption", "rotate", "--new-key-file", str(new_key))
        assert rotated.returncode == 0, rotated.stderr
        assert "rotated to key" in rotated.stdout and key_text not in rotated.stdout
        assert read_key_file(key_file).text == read_key_file(new_key).text

        again = httpx.get(f"{url}/api/v1/marts/client_profitability", headers=headers, timeout=30)
        assert again.status_code == 200 and again.json() == page.json()
    finally:
        stop_api(process)

    # The old key opens nothing any more; the new one opens the rewritten snapshot.
    with pytest.raises(duckdb.Error):
        _marts(built.snapshot, key_text)
    assert _marts(built.snapshot, read_key_file(key_file).text) == plain

    # A further run works on the rotated home (dbt, scoring, publish under the new key);
    # forced, as nothing is new since the snapshot.
    run = _cli(env, "run", "--force")
    assert run.returncode == 0, run.stdout + run.stderr
    snapshots = sorted(p for p in (home / "snapshots").glob("*.duckdb") if p != built.snapshot)
    assert len(snapshots) == 1
    assert _marts(snapshots[0], read_key_file(key_file).text) == plain

    # A backup is as encrypted as the home, and restores into an empty home under the key.
    manifest = back_up(storage_for(get_settings()), tmp_path / "backup")
    assert manifest.current_snapshot == snapshots[0].stem
    backed_up = (tmp_path / "backup" / "snapshots" / snapshots[0].name).read_bytes()
    assert not any(name in backed_up for name in names)
    assert manifest.encryption_key_id == read_key_file(key_file).key_id.hex()
    monkeypatch.setenv("MOATMETRICS_HOME", str(tmp_path / "restored"))
    dispose_engines()
    for refused_with in (None, write_key_file(tmp_path / "keys" / "other.key").source):
        if refused_with is None:
            monkeypatch.delenv("MOATMETRICS_ENCRYPTION_KEY_FILE")
        else:
            monkeypatch.setenv("MOATMETRICS_ENCRYPTION_KEY_FILE", str(refused_with))
        with pytest.raises(BackupError, match=r"encrypted under key [0-9a-f]{16}.*that key's file"):
            restore(get_settings(), tmp_path / "backup")
        assert not (tmp_path / "restored" / "snapshots").exists()  # nothing copied
    monkeypatch.setenv("MOATMETRICS_ENCRYPTION_KEY_FILE", str(key_file))
    restore(get_settings(), tmp_path / "backup")
    restored = tmp_path / "restored" / "snapshots" / snapshots[0].name
    assert _marts(restored, read_key_file(key_file).text) == plain
