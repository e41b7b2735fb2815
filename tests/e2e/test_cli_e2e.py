"""The `moatmetrics` command refusing a bad export as a user meets it. The demo through
`moatmetrics demo-data`, `run`, `serve`, `keys` and `snapshots` is run end to end by `make run`
(tests/e2e/test_make_run.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "moatmetrics"

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def _cli(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(
            f"moatmetrics {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


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
