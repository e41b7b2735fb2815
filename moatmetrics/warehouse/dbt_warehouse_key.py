"""dbt-duckdb plugin of the profile's `duckdb_encrypted` target: attaches the encrypted warehouse.

An encrypted DuckDB file opens only with its key at ATTACH time, and a key written into the
dbt profile would end up in dbt's logs and artefacts. So that target connects to memory and this
plugin, run by dbt-duckdb on each new connection, attaches the warehouse through
`moatmetrics.storage.duckdb_files` (the key read from its file, never printed) under the same
catalog name, `warehouse`, that the plain target's file gives it: compiled SQL and the prepared
manifest are the same in both targets. The profile's own `attach` entry for that alias is then
a no-op (``ATTACH IF NOT EXISTS``).
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from moatmetrics.settings import get_settings
from moatmetrics.storage.duckdb_files import attach_duckdb, catalog_name


class Plugin(BasePlugin):
    def configure_connection(self, conn: Any) -> None:
        settings = get_settings()
        alias = catalog_name(settings.warehouse_path)
        attach_duckdb(conn, settings.warehouse_path, alias, settings)
        conn.execute(f'USE "{alias}"')
