"""The `moatmetrics` command as a user runs it, from the tests: the installed console script in
a process of its own, with the environment the test gives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "moatmetrics"


def cli_output(env: dict[str, str], *args: str) -> str:
    """`moatmetrics <args>`'s standard output; the test fails, showing both outputs, unless
    it exits 0."""
    result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout
