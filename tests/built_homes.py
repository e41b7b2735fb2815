"""Homes after a good pipeline run, built once and shared: reading one is free, building one
costs a full pipeline run (30 s and more on the demo data).

A test that only reads a built home uses it as it is. A test that changes a home (a further
run, an upload, a review decision) copies it first (`copy_home`): copying a home directory is
much cheaper than building it, and the copy is as good as a home built in its place (the
warehouse, snapshots, app database and Dagster storage hold no absolute path that matters).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from moatmetrics.settings import Settings, ensure_home, get_settings


@dataclass(frozen=True)
class BuiltHome:
    settings: Settings  # its home is `settings.home`
    files: Path  # the export files the run ingested (landed as copies; never change these)
    snapshot: Path  # the snapshot file the run published

    @property
    def snapshot_id(self) -> str:
        return self.snapshot.stem


def _home_settings(home: Path) -> Settings:
    """The settings of the home at `home`, as the pipeline reads them from the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOATMETRICS_HOME", str(home))
        patch.delenv("MOATMETRICS_REVIEW_THRESHOLD", raising=False)
        return get_settings()


def build_home(home: Path, files: Path, pattern: str = "*.csv") -> BuiltHome:
    """Land `files` in a new home and run the real pipeline once; it must publish."""
    from orchestration.pipeline import run_pipeline  # Dagster: imported by the tests that build

    with pytest.MonkeyPatch.context() as patch:  # the pipeline reads its home from the env
        patch.setenv("MOATMETRICS_HOME", str(home))
        patch.delenv("MOATMETRICS_REVIEW_THRESHOLD", raising=False)
        settings = get_settings()
        ensure_home(settings)
        for path in files.glob(pattern):
            shutil.copy(path, settings.landing_dir / path.name)
        outcome = run_pipeline(settings)
    assert outcome.success and outcome.published, outcome.summary()
    assert outcome.published.path is not None
    return BuiltHome(settings, files, outcome.published.path)


def copy_home(built: BuiltHome, home: Path) -> BuiltHome:
    """A private copy of a built home at `home` (which may exist, empty or freshly ensured)."""
    shutil.copytree(built.settings.home, home, dirs_exist_ok=True)
    settings = dataclasses.replace(built.settings, home=home)
    return BuiltHome(settings, built.files, home / built.snapshot.relative_to(built.settings.home))


def built_once_per_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], BuiltHome]
) -> BuiltHome:
    """A home built by `build(folder)` once per test run, as a private copy for this worker.

    With several workers (pytest-xdist, `make test`), each worker is a pytest session: a
    session fixture that builds a home would build it once per worker. Here the first worker
    to take the run's lock builds it in the run's folder; every worker, that one included,
    then copies it (`copy_home`), so a test that writes to its worker's copy (a server's keys
    and audit entries) never reaches another worker's. The export files stay in the shared
    folder, read only."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    run = tmp_path_factory.getbasetemp().parent  # a worker's basetemp lies in the run's
    shared = run / f"built-{name}"
    record = shared / "built-home.json"
    with (run / f"built-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a build that failed half-way
            shared.mkdir()
            built = build(shared)
            record.write_text(
                json.dumps(
                    {"home": str(built.settings.home), "files": str(built.files),
                     "snapshot": str(built.snapshot)}
                )
            )  # fmt: skip
        written = json.loads(record.read_text())
    home = Path(written["home"])
    original = BuiltHome(_home_settings(home), Path(written["files"]), Path(written["snapshot"]))
    return copy_home(original, tmp_path_factory.mktemp(name) / "home")
