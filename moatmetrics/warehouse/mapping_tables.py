"""The mapping tables' rows in force, read from the warehouse's raw layer after a publish.

Mapping uploads are keyed (newest row per source and key wins, docs/data-contract.md), so the
raw tables hold exactly the rows in force; the publish step copies them to the app database
(moatmetrics/appdb/mappings.py) for the console.
"""

from __future__ import annotations

from typing import Any

import duckdb

from moatmetrics.contract.entities import ENTITIES, MAPPING_KEYS


def mapping_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """{"entity", "values", "upload_id"} of every row of the three raw mapping tables."""
    present = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
    }
    rows: list[dict[str, Any]] = []
    for entity in MAPPING_KEYS:
        if entity not in present:
            continue
        columns = [c.name for c in ENTITIES[entity].columns]
        quoted = ", ".join(f'"{c}"' for c in columns)
        for *values, upload_id in con.execute(
            f'SELECT {quoted}, _upload_id FROM raw."{entity}" ORDER BY ALL'
        ).fetchall():
            rows.append(
                {
                    "entity": entity,
                    "values": dict(zip(columns, values, strict=True)),
                    "upload_id": upload_id,
                }
            )
    return rows
