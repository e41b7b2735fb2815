"""Fixtures for the dbt project tests (helpers in dbt_test_support.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dbt_test_support import (
    HAND_COMPUTED_MARTS,
    HANDMADE_DIR,
    DuckdbBuild,
    load_raw_duckdb,
    run_dbt,
)


@pytest.fixture(scope="session")
def expected_marts() -> dict[str, list[dict[str, Any]]]:
    data = json.loads((HANDMADE_DIR / "expected.json").read_text(encoding="utf-8"))
    return {mart: data[mart] for mart in HAND_COMPUTED_MARTS}


@pytest.fixture(scope="session")
def duckdb_build(tmp_path_factory: pytest.TempPathFactory) -> DuckdbBuild:
    """`dbt build` (models, data tests, unit tests) on a DuckDB warehouse of the fixture."""
    work_dir = tmp_path_factory.mktemp("dbt_duckdb")
    warehouse = work_dir / "warehouse.duckdb"
    load_raw_duckdb(warehouse)
    run = run_dbt(
        ["build", "--target", "duckdb"],
        work_dir,
        {"MOATMETRICS_WAREHOUSE_PATH": str(warehouse)},
    )
    return DuckdbBuild(run=run, warehouse=warehouse)
