"""dbt-duckdb plugin of the profile's `duckdb` target: attaches the warehouse file.

The profile connects dbt to memory and this plugin, run by dbt-duckdb once per new database,
attaches `MOATMETRICS_WAREHOUSE_PATH` under the catalog name `warehouse` through
`moatmetrics.at_rest.duckdb_files`, the one place that opens the home's DuckDB files, so:

- an encrypted warehouse opens with its key (read from its file, never printed), and no key
  is written into the profile or dbt's logs and artefacts;
- nothing that differs from home to home is in the profile. dbt keeps its parse of the
  project (`partial_parse.msgpack`) only while the profile's connection details stay the
  same, so a new home can start from the installation's parse (`moatmetrics prepare`)
  instead of parsing the whole project again (about 4 s a new home).

The profile's own `attach` entry for that alias only tells dbt the catalog exists; it runs
after this one and is then a no-op (``ATTACH IF NOT EXISTS``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from moatmetrics.at_rest.duckdb_files import attach_duckdb
from moatmetrics.settings import get_settings

#: The catalog the models are built in (the profile's `database`).
WAREHOUSE_CATALOG = "warehouse"


class Plugin(BasePlugin):
    def configure_connection(self, conn: Any) -> None:
        path = os.environ.get("MOATMETRICS_WAREHOUSE_PATH")
        if not path:
            raise RuntimeError(
                "MOATMETRICS_WAREHOUSE_PATH is not set: dbt needs the warehouse file"
                " (moatmetrics sets it for its runs; see dbt_project/README.md)"
            )
        settings = get_settings()
        attach_duckdb(conn, Path(path), WAREHOUSE_CATALOG, settings)
        conn.execute(f'USE "{WAREHOUSE_CATALOG}"')
        # The pipeline's own budget. A database-wide setting, so set once here: as a profile
        # `settings` entry dbt-duckdb ran it again for every node (0.7 s of a small build).
        conn.execute("SET memory_limit = ?", [settings.duckdb_memory_limit])
