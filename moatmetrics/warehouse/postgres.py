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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from moatmetrics.at_rest.duckdb_files import connect_duckdb
from moatmetrics.seam.base import CopiedTable
from moatmetrics.settings import get_settings
from moatmetrics.warehouse.pg_snapshots import (
    CATALOG_SCHEMA,
    CATALOG_TABLE,
    libpq_url,
    register_snapshot,
)

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


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL column type for a DuckDB column type (as information_schema spells it)."""
    text = duckdb_type.upper().strip()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    decimal = _DECIMAL.match(text)
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    raise UnsupportedColumnType(f"no PostgreSQL type for DuckDB type {duckdb_type!r}")


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
    duckdb_con: duckdb.DuckDBPyConnection,
    pg_url: str,
    schema: str = "raw",
    target_schema: str | None = None,
    tables: Iterable[str] | None = None,
) -> list[CopiedTable]:
    """Replace DuckDB schema `schema`'s tables in PostgreSQL schema `target_schema` (same name).

    Each table is dropped (with the dbt views that depend on it; the next `dbt build`
    recreates them) and recreated with the same columns, then filled with COPY; one
    transaction for all tables. `tables` limits the copy to those names.
    """
    import psycopg

    target_schema = target_schema or schema
    found = _columns(duckdb_con, schema)
    wanted = found if tables is None else {t: found[t] for t in tables}
    copied: list[CopiedTable] = []
    with (
        tempfile.TemporaryDirectory(prefix="moatmetrics-pgcopy-") as work,
        psycopg.connect(libpq_url(pg_url)) as pg,
    ):
        pg.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(target_schema)}")
        for table, columns in wanted.items():
            source = f"{_quote(schema)}.{_quote(table)}"
            target = f"{_quote(target_schema)}.{_quote(table)}"
            pg.execute(f"DROP TABLE IF EXISTS {target} CASCADE")
            rows = _copy_table(duckdb_con, pg, source, target, columns, Path(work))
            copied.append(CopiedTable(table, rows))
        pg.commit()
    return copied


_PG_TO_DUCKDB = {
    "text": "VARCHAR",
    "character varying": "VARCHAR",
    "boolean": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "DOUBLE",  # no declared scale: a computed value, used as a number
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "date": "DATE",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "uuid": "UUID",
}
_PG_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")
_PG_VARCHAR = re.compile(r"^character varying\(\d+\)$")


def drop_schemas(pg_url: str, schemas: Iterable[str]) -> None:
    """Drop PostgreSQL schemas with everything in them, where they exist (one transaction)."""
    import psycopg

    with psycopg.connect(libpq_url(pg_url)) as pg:
        for schema in schemas:
            pg.execute(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")
        pg.commit()


def duckdb_type(pg_type: str) -> str:
    """The DuckDB (and API catalog) type name of a PostgreSQL type as `format_type` spells it."""
    text = pg_type.strip().lower()
    if _PG_VARCHAR.match(text):
        return "VARCHAR"
    numeric = _PG_NUMERIC.match(text.replace(" ", ""))
    if numeric and int(numeric.group(1)) <= 38:
        return f"DECIMAL({numeric.group(1)},{numeric.group(2)})"
    if text in _PG_TO_DUCKDB:
        return _PG_TO_DUCKDB[text]
    raise UnsupportedColumnType(f"no DuckDB type for PostgreSQL type {pg_type!r}")


def postgres_columns(pg, schema: str) -> dict[str, list[tuple[str, str]]]:
    """Column name and `format_type` of every table and view of a PostgreSQL schema, in order."""
    rows = pg.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p')"
        " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
        [schema],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, pg_type in rows:
        tables.setdefault(table, []).append((column, pg_type))
    return tables


def pull_from_postgres(
    duckdb_con: duckdb.DuckDBPyConnection,
    pg_url: str,
    tables: Iterable[tuple[str, str, str]],
) -> list[CopiedTable]:
    """Copy PostgreSQL tables or views into DuckDB tables: (pg schema, name, DuckDB schema).

    The reverse of `copy_raw_to_postgres`: `COPY (SELECT ...) TO STDOUT` streamed into a
    temporary CSV file that DuckDB's reader loads with the declared column types (quoted
    empty strings stay strings, unquoted empty fields are NULL). Used in PostgreSQL mode so
    the trust layer computes over the marts dbt built there.
    """
    import psycopg

    copied: list[CopiedTable] = []
    with (
        tempfile.TemporaryDirectory(prefix="moatmetrics-pgpull-") as work,
        psycopg.connect(libpq_url(pg_url)) as pg,
    ):
        schemas: dict[str, dict[str, list[tuple[str, str]]]] = {}
        for pg_schema, name, duck_schema in tables:
            if pg_schema not in schemas:
                schemas[pg_schema] = postgres_columns(pg, pg_schema)
            columns = schemas[pg_schema].get(name)
            if columns is None:
                raise LookupError(f"PostgreSQL has no table {pg_schema}.{name} to read")
            csv_path = Path(work) / f"{secrets.token_hex(8)}.csv"
            with (
                pg.cursor() as cursor,
                cursor.copy(
                    f"COPY (SELECT * FROM {_quote(pg_schema)}.{_quote(name)})"
                    " TO STDOUT (FORMAT csv)"
                ) as copy,
                open(csv_path, "wb") as handle,
            ):
                for block in copy:
                    handle.write(block)
            spec = ", ".join(f"{_sql_text(c)}: {_sql_text(duckdb_type(t))}" for c, t in columns)
            duckdb_con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(duck_schema)}")
            target = f"{_quote(duck_schema)}.{_quote(name)}"
            kind = duckdb_con.execute(
                "SELECT table_type FROM information_schema.tables WHERE table_schema = ?"
                " AND table_name = ? AND table_catalog = current_database()",
                [duck_schema, name],
            ).fetchone()
            if kind and kind[0] == "VIEW":  # left by an earlier dbt run on DuckDB
                duckdb_con.execute(f"DROP VIEW {target}")
            duckdb_con.execute(
                f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM read_csv("
                f"{_sql_text(str(csv_path))}, header = false, auto_detect = false,"
                f" allow_quoted_nulls = false, columns = {{{spec}}})"
            )
            rows = duckdb_con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            copied.append(CopiedTable(name, rows))
            csv_path.unlink()
        pg.rollback()
    return copied


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
    it, and the catalog `moatmetrics.snapshots` marks it current (what the API serves in
    PostgreSQL mode). A BI tool querying `marts.*` sees the previous snapshot or the new one,
    never a mix; older snapshot schemas stay queryable until an operator drops them.
    `reader_role` (created NOLOGIN if missing) may read `marts`, every snapshot schema and the
    catalog, and nothing else.
    """
    import psycopg

    schema = snapshot_schema(snapshot_id)
    quoted_schema, stable, role = _quote(schema), _quote(STABLE_SCHEMA), _quote(reader_role)
    con = connect_duckdb(snapshot_path, get_settings(), read_only=True)
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

            _point_marts_views(pg, snapshot_id, schema, list(marts))
            register_snapshot(pg, snapshot_id, schema, _manifest(con), _ordered(con, row_counts))

            exists = pg.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [reader_role])
            if exists.fetchone() is None:
                try:  # roles are per cluster: another database's publish may create it first
                    with pg.transaction():  # a savepoint
                        pg.execute(f"CREATE ROLE {role} NOLOGIN")
                except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                    pass
            for granted in (stable, quoted_schema, _quote(CATALOG_SCHEMA)):
                pg.execute(f"GRANT USAGE ON SCHEMA {granted} TO {role}")
                pg.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {granted} TO {role}")
            pg.commit()
    finally:
        con.close()
    return PostgresPublication(snapshot_id, schema, row_counts)


def _point_marts_views(pg, snapshot_id: str, schema: str, marts: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Replace the views of schema `marts` by views of `schema`'s marts (caller commits)."""
    from psycopg import sql

    stable, quoted_schema = _quote(STABLE_SCHEMA), _quote(schema)
    pg.execute(f"CREATE SCHEMA IF NOT EXISTS {stable}")
    existing = pg.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = %s",
        [STABLE_SCHEMA],
    ).fetchall()
    for (view,) in existing:
        pg.execute(f"DROP VIEW {stable}.{_quote(view)}")
    for table in marts:
        pg.execute(
            f"CREATE VIEW {stable}.{_quote(table)} AS SELECT * FROM {quoted_schema}.{_quote(table)}"
        )
    pg.execute(
        sql.SQL(
            "CREATE VIEW {}.current_snapshot AS"
            " SELECT {}::text AS snapshot_id, {}::text AS snapshot_schema"
        ).format(sql.Identifier(STABLE_SCHEMA), sql.Literal(snapshot_id), sql.Literal(schema))
    )


def use_snapshot_in_postgres(pg_url: str, snapshot_id: str, reader_role: str = READER_ROLE) -> str:
    """Make a snapshot published into this database current again; returns its schema.

    One transaction, under the catalog lock publishers take: the catalog's `is_current`
    moves to it and the views of schema `marts` switch to its tables (its `meta_` tables are
    not marts; the reader role may read the new views). KeyError when the catalog does not
    list it (never published, or pruned).
    """
    import psycopg

    with psycopg.connect(libpq_url(pg_url)) as pg:
        if pg.execute("SELECT to_regclass(%s)", [CATALOG_TABLE]).fetchone()[0] is None:
            raise KeyError(snapshot_id)
        pg.execute(f"LOCK TABLE {CATALOG_TABLE} IN EXCLUSIVE MODE")
        found = pg.execute(
            f"SELECT snapshot_schema FROM {CATALOG_TABLE} WHERE snapshot_id = %s", [snapshot_id]
        ).fetchone()
        if found is None:
            raise KeyError(snapshot_id)
        schema = found[0]
        tables = pg.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name NOT LIKE 'meta\\_%%' ORDER BY table_name",
            [schema],
        ).fetchall()
        _point_marts_views(pg, snapshot_id, schema, [t[0] for t in tables])
        if pg.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [reader_role]).fetchone():
            pg.execute(  # new views: the readers' grant again
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {_quote(STABLE_SCHEMA)}"
                f" TO {_quote(reader_role)}"
            )
        pg.execute(f"UPDATE {CATALOG_TABLE} SET is_current = false WHERE is_current")
        pg.execute(
            f"UPDATE {CATALOG_TABLE} SET is_current = true WHERE snapshot_id = %s", [snapshot_id]
        )
        pg.commit()
    return str(schema)


def _manifest(con: duckdb.DuckDBPyConnection) -> tuple[str, list[str]]:
    """created_at (as the JSON manifest spells it) and upload ids of a snapshot file."""
    from datetime import UTC

    created = con.execute("SELECT created_at FROM meta.snapshot").fetchone()
    uploads = con.execute("SELECT upload_id FROM meta.snapshot_uploads ORDER BY rowid").fetchall()
    created_at = created[0].astimezone(UTC).isoformat(timespec="seconds") if created else ""
    return created_at, [row[0] for row in uploads]


def _ordered(con: duckdb.DuckDBPyConnection, row_counts: dict[str, int]) -> dict[str, int]:
    """Row counts in the snapshot's own mart order (meta.snapshot_tables), as its manifest has."""
    rows = con.execute("SELECT mart FROM meta.snapshot_tables ORDER BY rowid").fetchall()
    order = [row[0] for row in rows]
    return {m: row_counts[m] for m in order if m in row_counts} | row_counts
