"""PostgreSQL as the warehouse engine: the raw layer copied from DuckDB.

Ingest always runs locally, in DuckDB (its vectorised CSV/JSON readers and SQL rules); in
PostgreSQL mode the resulting `raw.*` tables are then copied into the PostgreSQL database that
dbt builds the marts in (target `postgres` in dbt_project/profiles.yml).

The copy is vectorised end to end: DuckDB writes each table as CSV (its own writer, no Python
per row) into a temporary file that is streamed in 1 MiB blocks into PostgreSQL's
`COPY ... FROM STDIN`. NULL and the empty string stay distinct (DuckDB quotes empty strings,
PostgreSQL's CSV format reads an unquoted empty field as NULL). All tables are replaced in one
transaction, so dbt (or a reader) sees either the previous raw layer or the new one.

Published snapshots can be copied the same way (`publish_snapshot_to_postgres`): one schema
per snapshot plus a stable schema `marts` of views on the current one, readable by the role
`moatmetrics_reader`, for BI tools that speak PostgreSQL.
"""

from __future__ import annotations

import re
import secrets
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


def _copy_table(
    duckdb_con: duckdb.DuckDBPyConnection,
    pg,  # psycopg.Connection, in a transaction
    source: str,
    target: str,
    columns: list[tuple[str, str]],
    work: Path,
) -> int:
    """Create `target` in PostgreSQL with the columns of DuckDB's `source` and COPY the rows."""
    ddl = ", ".join(f"{_quote(c)} {postgres_type(t)}" for c, t in columns)
    pg.execute(f"CREATE TABLE {target} ({ddl})")
    csv_path = work / f"{secrets.token_hex(8)}.csv"
    path_literal = str(csv_path).replace("'", "''")
    duckdb_con.execute(
        f"COPY (SELECT * FROM {source}) TO '{path_literal}' (FORMAT csv, HEADER false)"
    )
    names = ", ".join(_quote(c) for c, _ in columns)
    try:
        with (
            pg.cursor() as cursor,
            cursor.copy(f"COPY {target} ({names}) FROM STDIN (FORMAT csv)") as copy,
            open(csv_path, "rb") as handle,
        ):
            while block := handle.read(BLOCK_BYTES):
                copy.write(block)
    finally:
        csv_path.unlink(missing_ok=True)
    return pg.execute(f"SELECT count(*) FROM {target}").fetchone()[0]


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
            name = f"{_quote(schema)}.{_quote(table)}"
            pg.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
            rows = _copy_table(duckdb_con, pg, name, name, columns, Path(work))
            copied.append(CopiedTable(table, rows))
        pg.commit()
    return copied


# ------------------------------------------------------------------ published snapshots

#: The stable schema BI tools query: one view per published mart, on the current snapshot.
STABLE_SCHEMA = "marts"
#: Role granted read access to published marts (grant it to BI logins); created if missing.
READER_ROLE = "moatmetrics_reader"


@dataclass(frozen=True)
class PostgresPublication:
    snapshot_id: str
    schema: str
    row_counts: dict[str, int]


def snapshot_schema(snapshot_id: str) -> str:
    """PostgreSQL schema of a snapshot: `snapshot_<id>` in lower case, `_` for other characters."""
    return "snapshot_" + re.sub(r"[^a-z0-9]+", "_", snapshot_id.lower()).strip("_")


def publish_snapshot_to_postgres(
    snapshot_path: Path, snapshot_id: str, pg_url: str, reader_role: str = READER_ROLE
) -> PostgresPublication:
    """Copy a published snapshot file into PostgreSQL and make it the current one there.

    The snapshot's marts become tables of a new schema `snapshot_<id>` (its `meta` tables too,
    prefixed `meta_`), never changed afterwards; then, in the same transaction, the views of
    schema `marts` are replaced by views of the new tables, and `marts.current_snapshot` names
    it. A BI tool querying `marts.*` sees the previous snapshot or the new one, never a mix;
    older snapshot schemas stay queryable until an operator drops them. `reader_role` (created
    NOLOGIN if missing) may read `marts` and every snapshot schema, and nothing else.
    """
    import psycopg
    from psycopg import sql

    schema = snapshot_schema(snapshot_id)
    quoted_schema, stable, role = _quote(schema), _quote(STABLE_SCHEMA), _quote(reader_role)
    con = duckdb.connect(str(snapshot_path), read_only=True)
    try:
        marts = _columns(con, "marts")
        meta = _columns(con, "meta")
        row_counts: dict[str, int] = {}
        with (
            tempfile.TemporaryDirectory(prefix="moatmetrics-pgpublish-") as work,
            psycopg.connect(libpq_url(pg_url)) as pg,
        ):
            # A leftover of an interrupted attempt at the same snapshot is replaced.
            pg.execute(f"DROP SCHEMA IF EXISTS {quoted_schema} CASCADE")
            pg.execute(f"CREATE SCHEMA {quoted_schema}")
            for table, columns in marts.items():
                target = f"{quoted_schema}.{_quote(table)}"
                source = f"marts.{_quote(table)}"
                row_counts[table] = _copy_table(con, pg, source, target, columns, Path(work))
            for table, columns in meta.items():
                target = f"{quoted_schema}.{_quote('meta_' + table)}"
                _copy_table(con, pg, f"meta.{_quote(table)}", target, columns, Path(work))

            pg.execute(f"CREATE SCHEMA IF NOT EXISTS {stable}")
            existing = pg.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema = %s",
                [STABLE_SCHEMA],
            ).fetchall()
            for (view,) in existing:
                pg.execute(f"DROP VIEW {stable}.{_quote(view)}")
            for table in marts:
                pg.execute(
                    f"CREATE VIEW {stable}.{_quote(table)} AS"
                    f" SELECT * FROM {quoted_schema}.{_quote(table)}"
                )
            pg.execute(
                sql.SQL(
                    "CREATE VIEW {}.current_snapshot AS"
                    " SELECT {}::text AS snapshot_id, {}::text AS snapshot_schema"
                ).format(
                    sql.Identifier(STABLE_SCHEMA), sql.Literal(snapshot_id), sql.Literal(schema)
                )
            )

            exists = pg.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [reader_role])
            if exists.fetchone() is None:
                pg.execute(f"CREATE ROLE {role} NOLOGIN")
            for granted in (stable, quoted_schema):
                pg.execute(f"GRANT USAGE ON SCHEMA {granted} TO {role}")
                pg.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {granted} TO {role}")
            pg.commit()
    finally:
        con.close()
    return PostgresPublication(snapshot_id, schema, row_counts)
