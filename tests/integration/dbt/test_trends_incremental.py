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

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_test_support import (
    MART_KEYS,
    DuckdbBuild,
    load_raw_postgres,
    run_dbt,
)
from postgres_server import PG, dbt_env, temporary_database

MARK = "kept as the last build made it"
CHANGES = (
    f"update marts.trends set explanation = '{MARK}' where entity_type = 'staff'",
    "update raw.invoices set amount = amount + 100 where invoice_id = 'INV-1004' and line_no = 1",
    "update raw.clients set client_name = 'Birch Legal LLP' where client_id = 'C002'",
)
ORDER = ", ".join(MART_KEYS["trends"])


class Warehouse:
    """A built hand-made warehouse: run SQL in it, read trends, and its dbt target."""

    def __init__(
        self,
        target: str,
        env: dict[str, str],
        execute: Callable[[str], list[tuple[Any, ...]] | None],
        query: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]],
    ) -> None:
        self.target, self.env, self.execute, self.query = target, env, execute, query

    def trends(self) -> list[dict[str, Any]]:
        names, rows = self.query(f"select * from marts.trends order by {ORDER}")
        return [dict(zip(names, row, strict=True)) for row in rows]


def _duckdb(build: DuckdbBuild, work: Path) -> Iterator[Warehouse]:
    path = work / "warehouse.duckdb"
    shutil.copy(build.warehouse, path)

    def execute(sql: str) -> None:
        with duckdb.connect(str(path)) as con:
            con.execute(sql)

    def query(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with duckdb.connect(str(path), read_only=True) as con:
            cursor = con.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()

    yield Warehouse("duckdb", {"MOATMETRICS_WAREHOUSE_PATH": str(path)}, execute, query)


def _postgres(build: DuckdbBuild, work: Path) -> Iterator[Warehouse]:
    import psycopg

    with temporary_database("moatmetrics_test_trends") as dbname:
        load_raw_postgres(dbname, build.warehouse)
        run = run_dbt(
            ["build", "--target", "postgres", "--exclude-resource-type", "test", "unit_test"],
            work,
            dbt_env(dbname),
        )
        assert run.success, run.exception

        def execute(sql: str) -> None:
            with psycopg.connect(dbname=dbname, autocommit=True, **PG) as con:
                con.execute(sql)

        def query(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            with psycopg.connect(dbname=dbname, **PG) as con:
                cursor = con.execute(sql)
                return [d.name for d in cursor.description or []], cursor.fetchall()

        yield Warehouse("postgres", dbt_env(dbname), execute, query)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, duckdb_build: DuckdbBuild, tmp_path: Path
) -> Iterator[Warehouse]:
    assert duckdb_build.run.success, duckdb_build.run.exception
    yield from (_duckdb if request.param == "duckdb" else _postgres)(duckdb_build, tmp_path)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["entity_type"], row["entity_key"], row["metric"], row["month"]


def _unmarked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "explanation": None} if r["entity_type"] == "staff" else r for r in rows]


def test_incremental_trends_recompute_changed_series_only(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    before = {_key(r): r for r in warehouse.trends()}
    for statement in CHANGES:
        warehouse.execute(statement)

    run = run_dbt(["run", "--target", warehouse.target], tmp_path, warehouse.env)
    assert run.success, run.exception
    incremental = warehouse.trends()

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
    full = warehouse.trends()
    assert all(r["explanation"] != MARK for r in full)
    assert _unmarked(full) == _unmarked(incremental)
