"""The storage back end of these settings, chosen in one place.

PostgreSQL (`moatmetrics.storage.postgres`) when MOATMETRICS_WAREHOUSE_URL is set, DuckDB files
(`moatmetrics.storage.duckdb`) otherwise. The pipeline gets it as the Dagster `storage`
resource; the API builds it once at start-up; the CLI per command.
"""

from __future__ import annotations

from moatmetrics.seam.base import Storage
from moatmetrics.settings import Settings


def storage_for(settings: Settings) -> Storage:
    """The back end `settings` name (cheap: nothing is opened until asked)."""
    if settings.warehouse_url:
        from moatmetrics.storage.postgres import PostgresStorage  # psycopg only in that mode

        return PostgresStorage(settings)
    from moatmetrics.storage.duckdb import DuckDBStorage

    return DuckDBStorage(settings)
