"""Shared fixtures: every test gets its own MoatMetrics home (warehouse, snapshots, uploads)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")

from moatmetrics.settings import Settings, ensure_home, get_settings  # noqa: E402


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MOATMETRICS_HOME", str(tmp_path / "home"))
    settings = get_settings()
    ensure_home(settings)
    return settings


@pytest.fixture
def warehouse(home: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(home.warehouse_path))
    yield con
    con.close()


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """Prepare dbt's manifest once (the Dagster definitions need it to load)."""
    from moatmetrics.cli import ensure_dbt_manifest

    return ensure_dbt_manifest(force=True)
