"""Homes after a good pipeline run, built once and shared: reading one is free, building one
costs a full pipeline run (30 s and more on the demo data).

A test that only reads a built home uses it as it is. A test that changes a home (a further
run, an upload, a review decision) copies it first (`copy_home`): copying a home directory is
much cheaper than building it, and the copy is as good as a home built in its place (the
warehouse, snapshots, app database and Dagster storage hold no absolute path that matters).
"""

from __future__ import annotations

import dataclasses
import shutil
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
