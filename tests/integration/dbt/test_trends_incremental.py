"""marts.trends built incrementally (macros/trend_series.sql) gives the rows a full build gives.

The hand-made warehouse is built in full, then changed: a client's February revenue and
another client's name. An incremental `dbt run` must recompute exactly the series those
reach (the client's revenue from February on, the portfolio's, every series named after the
renamed client) and leave the others as built: the staff series' rows, marked by hand
beforehand, keep their mark. A full refresh of trends on the same inputs must give the same
rows. On DuckDB and on PostgreSQL (the pre-hook's DELETE is plain SQL on both). A dbt unit
test cannot cover the incremental path: it reads `this`, which does not exist yet when
`dbt build` runs the unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dbt_test_support import MART_KEYS, DuckdbBuild, Warehouse, built_warehouse, run_dbt

MARK = "kept as the last build made it"
CHANGES = (
    f"update marts.trends set explanation = '{MARK}' where entity_type = 'staff'",
    "update raw.invoices set amount = amount + 100 where invoice_id = 'INV-1004' and line_no = 1",
    "update raw.clients set client_name = 'Birch Legal LLP' where client_id = 'C002'",
)
ORDER = ", ".join(MART_KEYS["trends"])


def trends(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.rows(f"select * from marts.trends order by {ORDER}")


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, duckdb_build: DuckdbBuild, tmp_path: Path
) -> Iterator[Warehouse]:
    yield from built_warehouse(request.param, duckdb_build, tmp_path)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["entity_type"], row["entity_key"], row["metric"], row["month"]


def _unmarked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "explanation": None} if r["entity_type"] == "staff" else r for r in rows]


def test_incremental_trends_recompute_changed_series_only(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    before = {_key(r): r for r in trends(warehouse)}
    for statement in CHANGES:
        warehouse.execute(statement)

    run = run_dbt(["run", "--target", warehouse.target], tmp_path, warehouse.env)
    assert run.success, run.exception
    incremental = trends(warehouse)

    staff = [r for r in incremental if r["entity_type"] == "staff"]
    assert staff and all(r["explanation"] == MARK for r in staff)  # untouched series
    revenue = {
        r["month"].isoformat(): r
        for r in incremental
        if r["entity_key"] == "C001" and r["metric"] == "revenue"
    }
    assert revenue["2025-02-01"]["value"] == before[_key(revenue["2025-02-01"])]["value"] + 100
    assert revenue["2025-01-01"] == before[_key(revenue["2025-01-01"])]
    renamed = [r for r in incremental if r["entity_key"].split(" / ")[0] == "C002"]
    assert renamed and all("Birch Legal LLP" in r["entity_name"] for r in renamed)

    run = run_dbt(
        ["run", "--target", warehouse.target, "--full-refresh", "--select", "trends"],
        tmp_path,
        warehouse.env,
    )
    assert run.success, run.exception
    full = trends(warehouse)
    assert all(r["explanation"] != MARK for r in full)
    assert _unmarked(full) == _unmarked(incremental)
