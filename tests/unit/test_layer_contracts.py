"""The layer contracts `make lint` checks (import-linter, `[tool.importlinter]` in
pyproject.toml) hold, and fail when a layer imports upwards.

The three packages are copied to a temporary folder and checked there with the project's own
configuration: as they are, every contract is kept; with one upward import added (the core
library reaching into the Dagster code location, or a core module importing the CLI), the
check fails and names the contract broken. So a contract cannot pass because it checks
nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("moatmetrics", "orchestration", "api")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CORE_LAYERS = (
    "Layers of the core: the seam's choice, its two back ends, the core's packages layer by"
    " layer, the floor, the settings"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and the configuration, checked from its own folder."""
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, before the installed (editable) packages.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _add_import(module: Path, statement: str) -> None:
    text = module.read_text(encoding="utf-8")
    module.write_text(text + f"\n{statement}  # an upward import\n", encoding="utf-8")


def test_the_contracts_hold_on_the_packages_as_they_are(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert _verdict(result.stdout, "Nothing below the CLI imports it") == "KEPT"


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        (
            "moatmetrics/marts.py",
            "import orchestration.definitions",
            "The core library imports neither the Dagster code location, the API nor the CLI",
        ),
        (
            "moatmetrics/trust/scoring.py",
            "import moatmetrics.cli",
            "Nothing below the CLI imports it",
        ),
        (
            "api/routers/marts.py",
            "import orchestration.pipeline",
            "The API and the Dagster code location are independent of each other",
        ),
        (
            "moatmetrics/settings.py",
            "import moatmetrics.snapshots",
            CORE_LAYERS,
        ),
        (
            "moatmetrics/seam/base.py",
            "import moatmetrics.warehouse.pg_snapshots",
            CORE_LAYERS,
        ),
        (
            "moatmetrics/contract/readers.py",
            "import moatmetrics.ingest.loader",
            CORE_LAYERS,
        ),
        (
            "moatmetrics/trust/tables.py",
            "import moatmetrics.warehouse.pg_mode",
            CORE_LAYERS,
        ),
        (
            "moatmetrics/storage/duckdb.py",
            "import moatmetrics.storage.postgres",
            CORE_LAYERS,
        ),
        (
            "moatmetrics/snapshots.py",
            "import moatmetrics.storage.configured",
            CORE_LAYERS,
        ),
    ],
    ids=[
        "core->orchestration",
        "core->cli",
        "api->orchestration",
        "settings->snapshots",
        "storage types->a back end's core",
        "the data contract->ingest",
        "trust->the warehouse above it",
        "one back end->the other",
        "core->the seam's choice",
    ],
)
def test_an_upward_import_breaks_its_contract(
    tree: Path, module: str, statement: str, contract: str
) -> None:
    _add_import(tree / module, statement)
    result = _lint(tree)
    assert result.returncode != 0, result.stdout
    assert _verdict(result.stdout, contract) == "BROKEN", result.stdout


def _verdict(report: str, contract: str) -> str:
    """KEPT or BROKEN: the word after the contract's name in the report (long names wrap)."""
    text = " ".join(report.split())
    after = text[text.index(contract) + len(contract) :].split()
    return next(word for word in after if word in ("KEPT", "BROKEN"))
