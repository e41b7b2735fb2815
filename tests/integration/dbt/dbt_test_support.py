"""Helpers for the dbt project tests: a warehouse with the hand-made fixture in `raw`, and
dbt run in-process (dbtRunner).

The raw loader here is a deliberately small stand-in for the product's ingest: it reads the
hand-made CSVs (which are valid per the data contract) with DuckDB `read_csv` into the exact
`raw` table layout of docs/warehouse.md and applies the documented defaults. It does no
validation. The product's real ingest (readers, validation, rejected rows) is tested end to
end elsewhere; these tests pin the dbt models against a known `raw` layer.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from fixture_files import HANDMADE as HANDMADE_DIR

from moatmetrics.contract.entities import ENTITIES, SQL_TYPES
from moatmetrics.settings import DBT_PROJECT_DIR, process_environment
from moatmetrics.warehouse.connection import release_dbt_duckdb

REPORTING_CURRENCY = "USD"

# The raw tables dbt reads (dbt_project/models/staging/_raw__sources.yml) and, per table, its
# columns and contract types in the documented order: the product's contract, not a copy of it.
RAW_SOURCE_ENTITIES = (
    "clients",
    "staff",
    "time_entries",
    "invoices",
    "licenses",
    "expenses",
    "license_facts",
    "client_aliases",
    "product_map",
    "account_map",
)
RAW_TABLES: dict[str, list[tuple[str, str]]] = {
    name: [(column.name, column.type) for column in ENTITIES[name].columns]
    for name in RAW_SOURCE_ENTITIES
}
# The analysts' corrections (moatmetrics/ingest/override_copy.py): not a contract entity;
# empty unless a test adds some.
RAW_TABLES["row_overrides"] = [
    ("override_id", "int"),
    ("entity", "string"),
    ("row_key", "string"),
    ("action", "string"),
    ("column_name", "string"),
    ("value", "string"),
    ("entry_id", "string"),
    ("invoice_id", "string"),
    ("line_no", "int"),
    ("expense_id", "string"),
    ("client_id", "string"),
    ("vendor", "string"),
    ("product", "string"),
    ("month", "date"),
    ("staff_id", "string"),
]
# The accepted rows that carry a data-quality warning (moatmetrics/ingest/loader.py,
# refresh_row_warnings): empty unless a test adds some. (The stand-in's lineage columns come
# with it, unused.)
RAW_TABLES["row_warnings"] = [("upload_id", "string"), ("row_number", "int")]

# Contract defaults applied at ingest (docs/warehouse.md), as SQL over the typed columns; the
# contract's two placeholders become this stand-in's fixed upload date and currency.
_PLACEHOLDERS = {"$reporting_currency": f"'{REPORTING_CURRENCY}'", "$upload_date": "current_date"}
DEFAULTS: dict[tuple[str, str], str] = {
    (name, column.name): _PLACEHOLDERS.get(column.default_sql, column.default_sql)
    for name in RAW_SOURCE_ENTITIES
    for column in ENTITIES[name].columns
    if column.default_sql
}

MART_KEYS: dict[str, list[str]] = {
    "client_profitability": ["client_id", "month"],
    "license_utilization": ["client_id", "vendor", "product", "month"],
    "staff_utilization": ["staff_id", "month"],
    "month_completeness": ["month"],
    "trends": ["entity_type", "entity_key", "metric", "month"],
    "benchmarks": ["month", "metric", "band"],
}
#: The marts the hand-made fixture's expected rows cover (tests/fixtures/handmade): the trends
#: and the benchmarks are derived from them, and their formulas have dbt unit tests of their own.
HAND_COMPUTED_MARTS = [mart for mart in MART_KEYS if mart not in ("trends", "benchmarks")]


def _typed_expression(column: str, column_type: str) -> str:
    text = f"nullif(trim({column}), '')"
    if column_type == "string":
        return text
    if column_type == "enum":
        return f"lower(replace(replace({text}, ' ', '_'), '-', '_'))"
    if column_type == "currency":
        return f"upper({text})"
    if column_type == "bool":
        return (
            f"case when lower({text}) in ('true', 'yes', 'y', '1') then true "
            f"when lower({text}) in ('false', 'no', 'n', '0') then false end"
        )
    return f"cast({text} as {SQL_TYPES[column_type]})"


def raw_table_ddl(table: str) -> str:
    columns = [f"{name} {SQL_TYPES[kind]}" for name, kind in RAW_TABLES[table]]
    columns += ["_upload_id VARCHAR", "_row_number BIGINT"]
    return f"create table raw.{table} ({', '.join(columns)})"


def load_raw_duckdb(warehouse: Path, csv_dir: Path = HANDMADE_DIR) -> None:
    """Create schema `raw` with all six tables in a DuckDB file and load `<table>.csv`."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists raw")
        for table, columns in RAW_TABLES.items():
            con.execute(raw_table_ddl(table))
            csv_path = csv_dir / f"{table}.csv"
            if not csv_path.exists():
                continue  # raw tables always exist, empty without an upload
            upload_id = "u" + hashlib.sha256(csv_path.read_bytes()).hexdigest()[:16]
            header = {
                row[0]
                for row in con.execute(
                    "describe select * from read_csv(?, header = true, all_varchar = true)",
                    [str(csv_path)],
                ).fetchall()
            }
            typed = ", ".join(
                f"{_typed_expression(name, kind) if name in header else 'null'} as {name}"
                for name, kind in columns
            )
            defaulted = ", ".join(
                f"coalesce({name}, {DEFAULTS[(table, name)]})"
                if (table, name) in DEFAULTS
                else name
                for name, _ in columns
            )
            con.execute(
                f"""
                insert into raw.{table}
                with source_rows as (
                    select *, row_number() over () + 1 as _row_number
                    from read_csv(?, header = true, all_varchar = true)
                ),
                typed as (select {typed}, _row_number from source_rows)
                select {defaulted}, '{upload_id}', _row_number from typed
                """,
                [str(csv_path)],
            )


def load_raw_postgres(dbname: str, warehouse: Path) -> None:
    """Schema `raw` of the PostgreSQL database `dbname`: the raw tables of a DuckDB warehouse."""
    import psycopg
    from postgres_server import PG

    raw_rows = raw_rows_duckdb(warehouse)
    with psycopg.connect(dbname=dbname, autocommit=True, **PG) as con:
        con.execute("create schema raw")
        for table in RAW_TABLES:
            con.execute(raw_table_ddl(table).replace("DECIMAL(18,4)", "NUMERIC(18,4)"))
            placeholders = ", ".join(["%s"] * (len(RAW_TABLES[table]) + 2))
            with con.cursor() as cursor:
                cursor.executemany(
                    f"insert into raw.{table} values ({placeholders})", raw_rows[table]
                )


def raw_rows_duckdb(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select * from raw.{table} order by _row_number").fetchall()
            for table in RAW_TABLES
        }


@dataclass
class DbtRun:
    success: bool
    statuses: dict[str, str]  # unique_id -> status
    exception: BaseException | None
    target_path: Path

    def by_resource_type(self, resource_type: str) -> dict[str, str]:
        prefix = f"{resource_type}."
        return {uid: s for uid, s in self.statuses.items() if uid.startswith(prefix)}


def run_dbt(
    command: list[str], work_dir: Path, env: dict[str, str], *, reuse_parse: bool = True
) -> DbtRun:
    """Run a dbt command in-process on the dbt project with target and logs under work_dir.

    Like a home's first run, it starts from the installation's parse of the project
    (`seed_partial_parse`; dbt re-parses what differs, all of it for another target), which
    spares each call a full parse (2-4 s); `reuse_parse=False` parses from nothing."""
    from dbt.cli.main import dbtRunner

    from orchestration.resources import seed_partial_parse

    target_path = work_dir / "target"
    if reuse_parse:
        seed_partial_parse(target_path)
    args = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(work_dir / "logs"),
    ]
    with process_environment(
        {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env}
    ):
        try:
            result = dbtRunner().invoke(args)
        finally:
            release_dbt_duckdb()
    statuses: dict[str, str] = {}
    for node_result in getattr(result.result, "results", None) or []:
        statuses[node_result.node.unique_id] = str(node_result.status)
    return DbtRun(
        success=result.success,
        statuses=statuses,
        exception=result.exception,
        target_path=target_path,
    )


def mart_rows_duckdb(warehouse: Path, mart: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(
            f"select * from marts.{mart} order by {', '.join(MART_KEYS[mart])} nulls first"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def normalize(value: Any) -> Any:
    """Mart values as JSON-like text: decimals keep their scale ('4252.50'), dates ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def normalize_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: normalize(v) for k, v in row.items()} for row in rows]


@dataclass
class DuckdbBuild:
    run: DbtRun
    warehouse: Path


class Warehouse:
    """A built hand-made warehouse: run SQL in it, read it, and its dbt target."""

    def __init__(
        self,
        target: str,
        env: dict[str, str],
        execute: Callable[[str], list[tuple[Any, ...]] | None],
        query: Callable[[str], tuple[list[str], list[tuple[Any, ...]]]],
    ) -> None:
        self.target, self.env, self.execute, self.query = target, env, execute, query

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of a query, as dicts of column name and value."""
        names, rows = self.query(sql)
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
    from postgres_server import PG, dbt_env, temporary_database

    with temporary_database("moatmetrics_test_dbt") as dbname:
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


def built_warehouse(backend: str, build: DuckdbBuild, work: Path) -> Iterator[Warehouse]:
    """A copy of the built hand-made warehouse in DuckDB, or its raw layer built by dbt in a
    PostgreSQL database of its own (`backend`: duckdb or postgres)."""
    assert build.run.success, build.run.exception
    yield from (_duckdb if backend == "duckdb" else _postgres)(build, work)
