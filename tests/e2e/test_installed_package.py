"""MoatMetrics installed from its wheel runs with the files it carries, not the checkout's.

The dbt project, the Great Expectations suites, the shipped source profiles, the Dagster
instance configuration, the app database's migrations and the console's pages are package
data: the code finds them beside itself (`moatmetrics.settings`). This builds the wheel from
the checkout's layout (the packages' links to the top-level dbt project, suites and workspace
included), installs it into a folder of its own, and runs the CLI from there, in a
working directory outside the checkout: `prepare` (dbt's manifest), `sources list` and a whole
pipeline run on the hand-made exports, published as a snapshot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from checkout import REPO_ROOT
from fixture_files import HANDMADE

from moatmetrics.settings import DBT_PROJECT_DIR

PACKAGES = ("moatmetrics", "orchestration", "api")
LINKED_FOLDERS = ("dbt_project", "expectations")  # top-level folders the packages link to
# What the code writes into its own folders: never part of a wheel.
NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "logs", "dbt_packages")
# The CLI of whichever `moatmetrics` package comes first on the path (`moatmetrics` script).
CLI = "import sys; from moatmetrics.cli import entry; sys.argv[0] = 'moatmetrics'; entry()"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the package sources, installed into `site/`."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    # The checkout's layout: the packages link to the dbt project, the suites and the
    # workspace at the top level (pyproject.toml); the wheel must carry what they link to.
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, source / package, symlinks=True, ignore=NOT_SOURCE)
    for folder in LINKED_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=NOT_SOURCE)
    for name in ("pyproject.toml", "README.md", "workspace.yaml"):
        shutil.copy2(REPO_ROOT / name, source / name)
    assert (source / "moatmetrics" / "dbt_project").is_symlink()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
         str(source)],
        check=True, cwd=root, timeout=300,
    )  # fmt: skip
    (wheel,) = (root / "dist").glob("moatmetrics-*.whl")
    subprocess.run(
        [*pip, "install", "--quiet", "--no-deps", "--no-index", "--target", str(root / "site"),
         str(wheel)],
        check=True, cwd=root, timeout=300,
    )  # fmt: skip
    return root


def _cli(installed: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(installed / "site"),
        "MOATMETRICS_HOME": str(installed / "home"),
    }
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=installed, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_wheel_carries_every_file_of_the_packages(installed: Path) -> None:
    site = installed / "site"
    sources = [
        (Path(directory) / name).relative_to(installed / "source")
        for package in PACKAGES
        for directory, _, files in os.walk(installed / "source" / package, followlinks=True)
        for name in files
    ]
    assert len(sources) > 300
    assert not (site / "moatmetrics" / "dbt_project").is_symlink()  # a copy, not a link
    missing = sorted(str(path) for path in sources if not (site / path).is_file())
    assert missing == []
    for data in (
        "moatmetrics/dbt_project/dbt_project.yml",
        "moatmetrics/quality/expectations/time_entries.json",
        "moatmetrics/sources/shipped/xero_invoices.yaml",
        "moatmetrics/dagster.yaml",
        "orchestration/workspace.yaml",
        "api/console/templates/overview.html",
    ):
        assert (site / data).is_file(), data


def test_the_installed_package_runs_the_pipeline_from_its_own_files(installed: Path) -> None:
    site = installed / "site"
    where = subprocess.run(
        [sys.executable, "-c",
         "import api, moatmetrics, orchestration; from moatmetrics import settings;"
         "print(moatmetrics.__file__, orchestration.__file__, api.__file__,"
         " settings.DBT_PROJECT_DIR, settings.EXPECTATIONS_DIR, settings.DAGSTER_INSTANCE_YAML)"],
        cwd=installed, env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(Path(path).is_relative_to(site) for path in where), where
    assert not any(Path(path).is_relative_to(REPO_ROOT) for path in where), where

    prepared = _cli(installed, "prepare")
    assert prepared.returncode == 0, prepared.stderr
    manifest = site / DBT_PROJECT_DIR.relative_to(REPO_ROOT) / "target" / "manifest.json"
    assert manifest.is_file()
    assert str(manifest) in prepared.stdout
    models = json.loads(manifest.read_text())["nodes"]
    assert "model.moatmetrics.client_profitability" in models

    profiles = _cli(installed, "sources", "list")
    assert profiles.returncode == 0, profiles.stderr
    assert profiles.stdout.count("shipped") == 12, profiles.stdout

    landing = installed / "home" / "landing"
    landing.mkdir(parents=True, exist_ok=True)  # the CLI has made the home
    for export in HANDMADE.glob("*.csv"):
        shutil.copy2(export, landing / export.name)
    run = _cli(installed, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "published snapshot" in run.stdout, run.stdout
    instance = (installed / "home" / "dagster" / "dagster.yaml").read_text()
    assert instance == (site / "moatmetrics" / "dagster.yaml").read_text()

    # The installation goes (an upgrade, another install); the home stays. dbt's saved parse
    # in the home names the old project's files (its seed, say): it must not be reused.
    shutil.rmtree(site)
    again = subprocess.run(
        [sys.executable, "-c", CLI, "run", "--force"],
        cwd=installed, env={**os.environ, "MOATMETRICS_HOME": str(installed / "home")},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "published snapshot" in again.stdout, again.stdout
