"""What a request reads from a snapshot store, whichever mode serves it.

The DuckDB-file store (`api.snapshot_store`) and the PostgreSQL store
(`api.snapshot_store_postgres`) both hand out these leases and raise these errors; they live
here so neither store imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from api.sql_dialect import DUCKDB, Dialect
from moatmetrics.snapshots import Snapshot


class NoSnapshotError(LookupError):
    """The CURRENT pointer does not exist yet: nothing was ever published."""


class SnapshotOpenError(RuntimeError):
    """The current snapshot's manifest or file cannot be read."""

    def __init__(self, snapshot_id: str) -> None:
        super().__init__(snapshot_id)
        self.snapshot_id = snapshot_id


class BrokenPointerError(SnapshotOpenError):
    """The CURRENT pointer holds no valid snapshot id (damaged or edited by hand)."""

    def __init__(self) -> None:
        super().__init__("CURRENT")


@dataclass(frozen=True)
class SnapshotLease:
    """What a request reads: one snapshot, a private cursor and the snapshot's mart columns.

    Queries name `schema` (`marts` in a snapshot file, `snapshot_<id>` in PostgreSQL) and use
    `dialect`'s parameter marker, so they read the leased snapshot whatever is current now.
    """

    snapshot: Snapshot
    cursor: Any  # duckdb.DuckDBPyConnection or a psycopg cursor
    tables: Mapping[str, Mapping[str, str]] = field(repr=False)
    schema: str = "marts"
    dialect: Dialect = DUCKDB


class Store(Protocol):
    """What the API needs of a snapshot store (DuckDB files or PostgreSQL schemas)."""

    def current_id(self) -> str | None: ...

    def lease(self) -> AbstractContextManager[SnapshotLease]: ...

    def leases_without_io(self) -> bool:
        """Whether a lease taken now costs no I/O (so it may be taken on the event loop)."""
        ...

    def close(self) -> None: ...
