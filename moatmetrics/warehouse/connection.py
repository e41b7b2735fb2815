"""The warehouse opened for writing, under the home's writer lock (`moatmetrics.run_lock`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from moatmetrics.at_rest.duckdb_files import connect_duckdb
from moatmetrics.run_lock import warehouse_lock
from moatmetrics.settings import Settings


@contextmanager
def warehouse_connection(
    settings: Settings, wait_s: float = 600.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing under the writer lock (waiting for it at most `wait_s`)."""
    with warehouse_lock(settings, timeout_s=wait_s), opened_warehouse(settings) as con:
        yield con


@contextmanager
def opened_warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing by a caller that already holds the writer lock."""
    con = connect_duckdb(
        settings.warehouse_path, settings, config={"memory_limit": settings.duckdb_memory_limit}
    )
    try:
        yield con
    finally:
        con.close()


def release_dbt_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps for the process after an in-process dbt run.

    A `dbt` child process let go of the warehouse file when it exited. In-process, dbt-duckdb
    caches its database for reuse (for good when it is in memory, as the encrypted target's,
    which attaches the warehouse), so the next open of the warehouse here, with another
    configuration or read-only, would find the file still held. The next dbt run reopens it.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing of it to close
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if environment is not None:
            environment.close()
