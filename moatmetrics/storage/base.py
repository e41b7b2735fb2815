"""What every storage backend hands back: a published snapshot and the error of a failed publish.

Kept apart from `moatmetrics.snapshots` (the DuckDB files and the `CURRENT` pointer) and
`moatmetrics.warehouse.pg_snapshots` (the PostgreSQL catalog) so both describe a snapshot the
same way without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SnapshotError(RuntimeError):
    """Publishing could not complete; the previous snapshot stays current."""


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    path: Path | None  # the DuckDB file; None for a snapshot that lives in PostgreSQL
    created_at: str
    row_counts: dict[str, int]
    upload_ids: list[str]
    schema: str | None = None  # PostgreSQL mode: the schema `snapshot_<id>`
    written: str = ""  # how its file was written: whole, or patched from the one before

    @property
    def location(self) -> str:
        """Where the snapshot's marts are: its file, or its PostgreSQL schema."""
        return str(self.path) if self.path else f"PostgreSQL schema {self.schema}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "path": self.location,
            "created_at": self.created_at,
            "row_counts": self.row_counts,
            "upload_ids": self.upload_ids,
        }
