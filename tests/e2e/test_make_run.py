"""`make run` as a first-time user meets it: it writes the demo exports, runs the pipeline,
publishes a snapshot the API serves (to a key, never without one), prints a key the console
accepts for uploads and reviews, and Ctrl-C stops everything it started; the `moatmetrics`
commands then find the snapshot it published.

Ctrl-C in a terminal sends SIGINT to the whole foreground process group. `make run` is started
here in a session of its own and that group gets SIGINT, as from a terminal; afterwards no
process of that session may be left (the Dagster UI's webserver and daemon used to survive,
about 0.9 GB, because a backgrounded job inherits SIGINT ignored).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import duckdb
import httpx
import pytest
from checkout import REPO_ROOT
from cli_commands import cli_output
from serving import free_port, wait_for_api, wait_until

pytestmark = pytest.mark.slow


def _session_members(sid: int) -> list[str]:
    """Processes still alive in session `sid` (zombies have exited: they do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        fields = text[text.rindex(")") + 2 :].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            alive.append(text[: text.rindex(")") + 1])
    return alive


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


@pytest.mark.timeout(900)
def test_make_run_publishes_the_demo_serves_it_to_a_key_and_ctrl_c_stops_everything(
    tmp_path, dbt_manifest
):
    api_port, ui_port = free_port(), free_port()
    home = tmp_path / "home"
    env = {**os.environ, "MOATMETRICS_HOME": str(home), "DO_NOT_TRACK": "1"}
    output = tmp_path / "make-run.log"
    with output.open("wb") as log:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"API_PORT={api_port}", f"UI_PORT={ui_port}"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_api(api_port, make)  # bounded by the test's timeout; fails if make exits
        wait_until(lambda: _answers(f"http://127.0.0.1:{ui_port}/"))
        printed = output.read_text()
        key = re.search(r"^\s+(mmk_\S+)$", printed, re.MULTILINE)
        assert key, printed
        assert "MOATMETRICS_HOME=" in printed  # how to switch to one's own exports
        me = httpx.get(
            f"http://127.0.0.1:{api_port}/api/v1/me",
            headers={"Authorization": f"Bearer {key.group(1)}"},
        )
        assert me.status_code == 200 and me.json()["role"] == "analyst", me.text
        assert len(_session_members(make.pid)) > 3  # make, its shell, the API and the UI's

        url = f"http://127.0.0.1:{api_port}/api/v1/marts/client_profitability"
        assert httpx.get(url).status_code == 401  # no default credentials
        viewer = cli_output(env, "keys", "create", "--name", "e2e", "--role", "viewer").strip()
        page = httpx.get(url, params={"limit": 5}, headers={"Authorization": f"Bearer {viewer}"})
        body = page.json()
        assert len(body["rows"]) == 5, page.text
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        make.wait(timeout=120)
    wait_until(lambda: not _session_members(make.pid))  # every process stops after Ctrl-C

    printed = output.read_text()
    assert "time_entries.csv:" in printed  # the demo exports written
    assert "succeeded" in printed and "published snapshot" in printed
    assert "invoices.csv: accepted" in printed  # one injected EUR line rejected, file kept
    current = Path(cli_output(env, "snapshots", "current").strip())
    assert current.exists() and current.parent == home / "snapshots"
    with duckdb.connect(str(current), read_only=True) as con:
        (rows,) = con.execute("SELECT count(*) FROM marts.client_profitability").fetchone()
    assert body["total"] == rows > 100 and body["snapshot_id"] == current.stem
    listing = cli_output(env, "snapshots", "list").splitlines()
    assert len(listing) == 1 and listing[0].startswith("*")
