"""DuckDB and PostgreSQL build identical marts from the same demo data.

Real components end to end: demo data written by `moatmetrics.demo_data`, ingested by the
product's `Ingestor` into a DuckDB warehouse, its raw layer copied into a fresh PostgreSQL
database by `moatmetrics.warehouse.postgres.copy_raw_to_postgres`, then `dbt build` on each
engine. Every column of every row must be equal: money to the cent, ratios digit for digit;
and the trust layer's evidence (dbt_project/models/evidence) the same, doubles to 12 digits.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_test_support import MART_KEYS, run_dbt
from postgres_server import database_url, dbt_env, temporary_database

from moatmetrics.settings import Settings
from moatmetrics.trust import evidence
from moatmetrics.warehouse.postgres import copy_raw_to_postgres


@pytest.fixture
def pg_database() -> str:
    """A fresh database; yields its URL and drops it afterwards."""
    with temporary_database("moatmetrics_test_pg") as name:
        yield name, database_url(name)


def _ordered(mart: str) -> str:
    return ", ".join(MART_KEYS[mart])


def _rows_duckdb(
    path: Path, mart: str, relation: str | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    relation = relation or f"marts.{mart}"
    with duckdb.connect(str(path), read_only=True) as con:
        order = ", ".join(f"{c} NULLS FIRST" for c in MART_KEYS[mart])
        cursor = con.execute(f"SELECT * FROM {relation} ORDER BY {order}")
        return [d[0] for d in cursor.description], cursor.fetchall()


def _rows_postgres(
    url: str, mart: str, relation: str | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    import psycopg

    relation = relation or f"marts.{mart}"
    with psycopg.connect(url) as con:
        # Byte order of text keys, as DuckDB sorts, whatever the database's collation.
        order = ", ".join(
            (f'{c} COLLATE "C"' if c != "month" else c) + " NULLS FIRST" for c in MART_KEYS[mart]
        )
        cursor = con.execute(f"SELECT * FROM {relation} ORDER BY {order}")
        return [d.name for d in cursor.description], cursor.fetchall()


def _same(duck: Any, pg: Any) -> bool:
    """Equal, of the same type; doubles (evidence averages, spreads and medians) to 12
    significant digits, as the two engines sum floating point in their own order."""
    if isinstance(duck, float) and isinstance(pg, float):
        return math.isclose(duck, pg, rel_tol=1e-12, abs_tol=1e-12)
    return duck == pg and type(duck) is type(pg)


def test_copy_keeps_nulls_empty_strings_and_exact_values(pg_database) -> None:
    import psycopg

    _, url = pg_database
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.t (s VARCHAR, d DECIMAL(18, 4), b BOOLEAN, n BIGINT, day DATE,"
        " ts TIMESTAMPTZ, f DOUBLE)"
    )
    rows = [
        ("", Decimal("-0.0050"), True, 2**40, date(2024, 2, 29),
         datetime(2024, 1, 1, 12, 30, tzinfo=UTC), 0.1),
        (None, None, None, None, None, None, None),
        ('a "quoted", multi-line\ntext é', Decimal("12345678901234.5678"), False, -1,
         date(1999, 12, 31), datetime(2030, 6, 1, tzinfo=UTC), 1 / 3),
    ]  # fmt: skip
    con.executemany("INSERT INTO raw.t VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    (copied,) = copy_raw_to_postgres(con, url)
    assert (copied.name, copied.rows) == ("t", 3)
    with psycopg.connect(url) as pg:
        got = pg.execute("SELECT * FROM raw.t ORDER BY n NULLS LAST").fetchall()
    assert got == [rows[2], rows[0], rows[1]]
    copy_raw_to_postgres(con, url)  # a second copy replaces, never appends
    with psycopg.connect(url) as pg:
        assert pg.execute("SELECT count(*) FROM raw.t").fetchone()[0] == 3


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_data_marts_identical_on_duckdb_and_postgres(
    home: Settings, tmp_path: Path, pg_database
) -> None:
    from moatmetrics.contract.entities import load_order
    from moatmetrics.demo_data import generate
    from moatmetrics.ingest.loader import Ingestor

    dbname, url = pg_database
    demo = tmp_path / "demo"
    generate(demo, seed=11, scale="small")
    timings: dict[str, float] = {}

    started = time.monotonic()
    con = duckdb.connect(str(home.warehouse_path))
    try:
        ingestor = Ingestor(con, home)
        for path in sorted(demo.glob("*.csv"), key=lambda p: (load_order(p.stem), p.name)):
            result = ingestor.ingest_file(path)
            assert result.status == "accepted", (path.name, result.message)
        timings["ingest"] = time.monotonic() - started
        started = time.monotonic()
        copied = {t.name: t.rows for t in copy_raw_to_postgres(con, url)}
        timings["copy raw to postgres"] = time.monotonic() - started
        raw_counts = {
            table: con.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0]
            for table in copied
        }
    finally:
        con.close()
    assert copied == raw_counts and set(copied) >= {"clients", "staff", "time_entries"}
    assert copied["time_entries"] > 1000

    started = time.monotonic()
    duck = run_dbt(
        ["build", "--target", "duckdb"],
        tmp_path / "dbt_duckdb",
        {"MOATMETRICS_WAREHOUSE_PATH": str(home.warehouse_path)},
    )
    timings["dbt build duckdb"] = time.monotonic() - started
    assert duck.success, duck.exception
    started = time.monotonic()
    pg = run_dbt(
        ["build", "--target", "postgres"],
        tmp_path / "dbt_postgres",
        dbt_env(dbname),
    )
    timings["dbt build postgres"] = time.monotonic() - started
    assert pg.success, pg.exception
    assert pg.statuses == duck.statuses  # same models, data tests and unit tests, all passing

    # The marts, then the evidence the trust layer scores them by (built in PostgreSQL in
    # PostgreSQL mode): every row, every column.
    relations = [(mart, f"marts.{mart}") for mart in MART_KEYS]
    relations += [(mart, evidence.table(mart)) for mart in MART_KEYS if mart in evidence.ORDER]
    for mart, relation in relations:
        duck_columns, duck_rows = _rows_duckdb(home.warehouse_path, mart, relation)
        pg_columns, pg_rows = _rows_postgres(url, mart, relation)
        assert pg_columns == duck_columns, relation
        assert len(pg_rows) == len(duck_rows) > 0, relation
        for duck_row, pg_row in zip(duck_rows, pg_rows, strict=True):
            differences = {
                column: (d, p)
                for column, d, p in zip(duck_columns, duck_row, pg_row, strict=True)
                if not _same(d, p)
            }
            assert not differences, (relation, duck_row[: len(MART_KEYS[mart])], differences)
        timings[f"{relation} rows"] = len(duck_rows)
    print("\n" + ", ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}"
                           for k, v in timings.items()))  # fmt: skip
