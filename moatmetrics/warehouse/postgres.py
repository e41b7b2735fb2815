"""PostgreSQL as the warehouse engine: the raw layer copied from DuckDB.

Ingest always runs locally, in DuckDB (its vectorised CSV/JSON readers and SQL rules); in
PostgreSQL mode the resulting `raw.*` tables are then copied into the PostgreSQL database that
dbt builds the marts in (target `postgres` in dbt_project/profiles.yml).

The copy is vectorised end to end: DuckDB writes each table as CSV (its own writer, no Python
per row) into a temporary file that is streamed in 1 MiB blocks into PostgreSQL's
`COPY ... FROM STDIN`. NULL and the empty string stay distinct (DuckDB quotes empty strings,
PostgreSQL's CSV format reads an unquoted empty field as NULL). All tables are replaced in one
transaction, so dbt (or a reader) sees either the previous raw layer or the new one.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

BLOCK_BYTES = 2**20

_SIMPLE_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric(38, 0)",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "UUID": "uuid",
    "BLOB": "bytea",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


class UnsupportedColumnType(ValueError):
    """A raw column has a DuckDB type with no PostgreSQL counterpart here."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL column type for a DuckDB column type (as information_schema spells it)."""
    text = duckdb_type.upper().strip()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    decimal = _DECIMAL.match(text)
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    raise UnsupportedColumnType(f"no PostgreSQL type for DuckDB type {duckdb_type!r}")


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+psycopg://...) as libpq expects it."""
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = ? AND table_catalog = current_database()"
        " ORDER BY table_name, ordinal_position",
        [schema],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def copy_raw_to_postgres(
    duckdb_con: duckdb.DuckDBPyConnection, pg_url: str, schema: str = "raw"
) -> list[CopiedTable]:
    """Replace schema `schema` in PostgreSQL with the DuckDB tables of the same schema.

    Each table is dropped (with the dbt views that depend on it; the next `dbt build`
    recreates them) and recreated with the same columns, then filled with COPY; one
    transaction for all tables.
    """
    import psycopg

    tables = _columns(duckdb_con, schema)
    copied: list[CopiedTable] = []
    with (
        tempfile.TemporaryDirectory(prefix="moatmetrics-pgcopy-") as work,
        psycopg.connect(libpq_url(pg_url)) as pg,
    ):
        pg.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
        for table, columns in tables.items():
            target = f"{_quote(schema)}.{_quote(table)}"
            ddl = ", ".join(f"{_quote(c)} {postgres_type(t)}" for c, t in columns)
            pg.execute(f"DROP TABLE IF EXISTS {target} CASCADE")
            pg.execute(f"CREATE TABLE {target} ({ddl})")
            csv_path = Path(work) / f"{table}.csv"
            source = f"{_quote(schema)}.{_quote(table)}"
            path_literal = str(csv_path).replace("'", "''")
            duckdb_con.execute(
                f"COPY (SELECT * FROM {source}) TO '{path_literal}' (FORMAT csv, HEADER false)"
            )
            names = ", ".join(_quote(c) for c, _ in columns)
            with (
                pg.cursor() as cursor,
                cursor.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT csv)") as copy,
                open(csv_path, "rb") as handle,
            ):
                while block := handle.read(BLOCK_BYTES):
                    copy.write(block)
            csv_path.unlink()
            rows = pg.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            copied.append(CopiedTable(table, rows))
        pg.commit()
    return copied
