"""The warehouse opened for writing, under the home's writer lock (`moatmetrics.run_lock`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from moatmetrics.run_lock import warehouse_lock
from moatmetrics.settings import Settings


@contextmanager
def warehouse_connection(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing under the writer lock."""
    with warehouse_lock(settings):
        con = duckdb.connect(
            str(settings.warehouse_path), config={"memory_limit": settings.duckdb_memory_limit}
        )
        try:
            yield con
        finally:
            con.close()
