"""The mapping tables in force (client_aliases, product_map, account_map) as of the last publish.

Mapping tables are uploads (docs/data-contract.md "Mapping uploads"): their rows live in the
warehouse, newest row per key. The console lists them from here instead, because the
warehouse is held by a running pipeline for most of a run; the publish step copies the rows in
force after every publish, so this table always says what the current snapshot was built with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from moatmetrics.appdb.models import MappingRow, Upload
from moatmetrics.appdb.uploads import ACCEPTED
from moatmetrics.contract.entities import MAPPING_KEYS


@dataclass(frozen=True)
class MappingInForce:
    entity: str
    values: dict[str, Any]
    upload_id: int | None  # the app's upload record that brought it (None: not recorded)
    upload_rows: int  # rows that upload loaded: 1 = a row written on its own (withdrawable)


def record_mappings(session: Session, rows: list[dict[str, Any]], snapshot_id: str) -> int:
    """Replace the rows in force with `rows` ({"entity", "values", "upload_id"} each)."""
    session.execute(delete(MappingRow))
    for row in rows:
        values = row["values"]
        session.add(
            MappingRow(
                entity=row["entity"],
                source=str(values.get("source") or "")[:32],
                mapping_key=str(values.get(MAPPING_KEYS[row["entity"]]) or "")[:255],
                values_json=json.dumps(values, sort_keys=True, default=str),
                warehouse_upload_id=row.get("upload_id"),
                snapshot_id=snapshot_id,
            )
        )
    return len(rows)


def mappings_in_force(session: Session) -> dict[str, list[MappingInForce]]:
    """Every entity's rows in force, by source and key, with the upload that brought each."""
    uploads = {
        warehouse_id: (upload_id, rows)
        for warehouse_id, upload_id, rows in session.execute(
            select(Upload.warehouse_upload_id, Upload.id, Upload.rows_loaded)
            .where(Upload.status == ACCEPTED, Upload.entity.in_(MAPPING_KEYS))
            .order_by(Upload.id)
        )
    }  # the newest accepted record of each content wins
    found: dict[str, list[MappingInForce]] = {entity: [] for entity in MAPPING_KEYS}
    query = select(MappingRow).order_by(
        MappingRow.entity, MappingRow.source, MappingRow.mapping_key
    )
    for row in session.scalars(query):
        upload_id, upload_rows = uploads.get(row.warehouse_upload_id or "", (None, 0))
        found[row.entity].append(
            MappingInForce(row.entity, json.loads(row.values_json), upload_id, int(upload_rows))
        )
    return found


def snapshot_of_mappings(session: Session) -> str | None:
    """The snapshot the rows in force were recorded with (None before the first publish)."""
    return session.scalar(select(MappingRow.snapshot_id).limit(1))
