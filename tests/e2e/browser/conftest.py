"""Fixtures for the console tests: one real demo home (demo data through `moatmetrics run`),
one key per role, and the API process serving it over real HTTP.

The home is built once per session (about 25 s): review items, churn risk and uploads then
exist as a user would see them. The server runs pipeline runs after uploads, as in
production, so the upload flow ends in a real ingest.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_home import Console
from serving import free_port, wait_for_api

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import ROLES, create_key
from moatmetrics.settings import REPO_ROOT, get_settings

BIN = Path(sys.executable).parent / "moatmetrics"
ARTIFACTS = Path(__file__).parent / "artifacts"


def _cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=600)
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"moatmetrics {' '.join(args)} failed:\n{output}"


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-home")
    env = {**os.environ, "MOATMETRICS_HOME": str(home), "DO_NOT_TRACK": "1"}
    _cli(env, "demo-data", "--out", str(home / "landing"), "--seed", "11")
    _cli(env, "run")
    settings = dataclasses.replace(get_settings(), home=home)
    keys = {}
    with session_scope(settings, write=True) as session:
        for role in ROLES:
            keys[role] = create_key(session, Actor("tests"), f"console-{role}", role)[1]
    port = free_port()
    log = open(tmp_path_factory.mktemp("console-log") / "server.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=REPO_ROOT, env={**env, "MOATMETRICS_RATE_LIMIT_PER_MINUTE": "0"},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_api(port, server)
        yield Console(f"http://127.0.0.1:{port}", home, keys, settings)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
