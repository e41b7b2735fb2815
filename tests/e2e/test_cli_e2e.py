"""The `moatmetrics` command end to end on demo data, as a user runs it, API included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest
from serving import free_port, wait_for_api

BIN = Path(sys.executable).parent / "moatmetrics"

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def _cli(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(
            f"moatmetrics {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def test_demo_data_run_snapshots_and_serve(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "MOATMETRICS_HOME": str(home)}

    demo = _cli(env, "demo-data", "--out", str(home / "landing"), "--seed", "7")
    assert "time_entries.csv:" in demo.stdout

    run = _cli(env, "run")
    assert "succeeded" in run.stdout and "published snapshot" in run.stdout
    assert "invoices.csv: accepted" in run.stdout  # one injected EUR line rejected, file kept

    current = Path(_cli(env, "snapshots", "current").stdout.strip())
    assert current.exists() and current.parent == home / "snapshots"
    con = duckdb.connect(str(current), read_only=True)
    (rows,) = con.execute("SELECT count(*) FROM marts.client_profitability").fetchone()
    con.close()
    assert rows > 100

    port = free_port()
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_api(port, server)
        url = f"http://127.0.0.1:{port}/api/v1/marts/client_profitability"
        assert httpx.get(url).status_code == 401  # no default credentials
        key = _cli(env, "keys", "create", "--name", "e2e", "--role", "viewer").stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}
        body = httpx.get(url, params={"limit": 5}, headers=auth).json()
        assert body["total"] == rows and len(body["rows"]) == 5
        assert body["snapshot_id"] == current.stem
    finally:
        server.terminate()
        server.wait(timeout=10)

    listing = _cli(env, "snapshots", "list").stdout.splitlines()
    assert len(listing) == 1 and listing[0].startswith("*")


def test_run_with_a_rejected_file_exits_non_zero_with_reasons(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "MOATMETRICS_HOME": str(home)}
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "clients.csv").write_text("client_id,industry\nC1,Legal\n")
    result = _cli(env, "run", check=False)
    assert result.returncode == 1
    assert "BLOCKED" in result.stdout
    assert "missing required column for clients: 'client_name'" in result.stdout
    assert "nothing published" in result.stdout
    assert _cli(env, "snapshots", "current", check=False).returncode == 1
