"""The README's SQL example, run as written against a published snapshot: a user copying it
from the README must get rows with only what `make install` provides (no `duckdb` CLI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from built_homes import BuiltHome

README = Path(__file__).resolve().parents[2] / "README.md"


def _sql_access_example() -> str:
    section = README.read_text(encoding="utf-8").split("### SQL access", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "README's SQL access section has no bash example"
    return match.group(1)


def test_readme_sql_example_reads_the_current_snapshot(demo_home: BuiltHome) -> None:
    script = _sql_access_example()
    assert "duckdb " not in script.replace("duckdb.", ""), "the example must not need a duckdb CLI"
    bin_dir = Path(sys.executable).parent  # the install's .venv/bin, wherever this checkout is
    script = script.replace(".venv/bin/", f"{bin_dir}/")
    env = {**os.environ, "MOATMETRICS_HOME": str(demo_home.settings.home)}
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "client_id" in done.stdout and "gross_margin" in done.stdout
    header_and_rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    assert len(header_and_rows) >= 3, done.stdout  # names, types, then at least one client row
