"""The PostgreSQL server the tests use (127.0.0.1:5432, trust auth, as in CI).

One place for its connection settings, the admin connection that creates and drops the
tests' own databases, and their URLs. Without a server the PostgreSQL tests skip, except in
CI (`MOATMETRICS_REQUIRE_POSTGRES=1` or `CI` set), where they must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from moatmetrics.appdb.db import dispose_engines
from moatmetrics.warehouse import pg_snapshots
from moatmetrics.warehouse.postgres import READER_ROLE

PG: dict[str, Any] = {
    "host": os.environ.get("MOATMETRICS_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MOATMETRICS_PG_PORT", "5432")),
    "user": os.environ.get("MOATMETRICS_PG_USER", "postgres"),
    "password": os.environ.get("MOATMETRICS_PG_PASSWORD", ""),
}


def postgres_required() -> bool:
    return os.environ.get("MOATMETRICS_REQUIRE_POSTGRES") == "1" or bool(os.environ.get("CI"))


def admin_connection(dbname: str = "postgres"):  # -> psycopg.Connection
    """An autocommit connection for CREATE/DROP DATABASE; skips the test when there is no
    server (fails in CI)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=5, **PG)
    except psycopg.OperationalError as error:
        if postgres_required():
            raise
        pytest.skip(f"no PostgreSQL server at {PG['host']}:{PG['port']}: {error}")


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """A new database named after `prefix` (unique per process and call), dropped afterwards
    even if a connection is still open on it."""
    admin = admin_connection()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def database_url(name: str) -> str:
    password = f":{PG['password']}" if PG["password"] else ""
    return f"postgresql://{PG['user']}{password}@{PG['host']}:{PG['port']}/{name}"


def dbt_env(name: str) -> dict[str, str]:
    """The MOATMETRICS_PG_* variables dbt's `postgres` target reads, for database `name`."""
    return {
        "MOATMETRICS_PG_HOST": PG["host"],
        "MOATMETRICS_PG_PORT": str(PG["port"]),
        "MOATMETRICS_PG_USER": PG["user"],
        "MOATMETRICS_PG_PASSWORD": PG["password"],
        "MOATMETRICS_PG_DBNAME": name,
    }


@contextmanager
def reader_role_as_found() -> Iterator[None]:
    """Leave the cluster-wide role `moatmetrics_reader` as it was found.

    A publish into PostgreSQL creates the role (NOLOGIN) when it is missing. Roles belong to
    the server, not to a database, so dropping the tests' databases leaves it behind: if it
    was missing before, it is dropped afterwards, unless something still granted to it in
    another database (another test process publishing meanwhile) needs it.
    """
    psycopg = pytest.importorskip("psycopg")
    admin = admin_connection()
    try:
        found = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE])
        existed = found.fetchone() is not None
        yield
        if not existed:
            with suppress(psycopg.Error):  # granted in another database since: keep it
                admin.execute(f'DROP ROLE IF EXISTS "{READER_ROLE}"')
    finally:
        admin.close()


def release_pooled_connections() -> None:
    """Close this process's pooled connections (app database, snapshot catalog), so a test
    database can be dropped and no connection outlives it."""
    dispose_engines()
    pg_snapshots.dispose_engines()
