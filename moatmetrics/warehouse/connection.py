"""The warehouse opened for writing, under the home's writer lock (`moatmetrics.run_lock`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from moatmetrics.run_lock import warehouse_lock
from moatmetrics.settings import Settings
from moatmetrics.storage.duckdb_files import connect_duckdb


@contextmanager
def warehouse_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing under the writer lock."""
    with warehouse_lock(settings):
        con = connect_duckdb(
            settings.warehouse_path, settings, config={"memory_limit": settings.duckdb_memory_limit}
        )
        try:
            yield con
        finally:
            con.close()
