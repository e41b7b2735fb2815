"""The storage seam: what a storage back end is, and what it hands back.

MoatMetrics keeps its marts in one of two back ends, chosen once from the settings
(`moatmetrics.storage.configured.storage_for`: PostgreSQL when MOATMETRICS_WAREHOUSE_URL is
set, DuckDB files otherwise). Everything that depends on the choice sits behind `Storage`:

- the warehouse a run writes: what a run adds after ingest and after dbt (PostgreSQL mode
  copies `raw` to PostgreSQL, dbt builds there, the trust layer reads what dbt built back);
- the snapshot catalog: publishing, the current snapshot, listing, switching, pruning;
- the snapshot readers the API, the console and the reports lease a snapshot from.

Ingest, the quality gate, the trust layer and the snapshot writer are the same in both modes;
the back ends (`moatmetrics.storage.duckdb`, `moatmetrics.storage.postgres`) wrap them. This
module imports neither back end, so both describe a snapshot, a lease and their errors the
same way without importing each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from moatmetrics.marts import PUBLISHED_MARTS
from moatmetrics.seam.dialect import DUCKDB, Dialect
from moatmetrics.settings import Settings

if TYPE_CHECKING:
    import duckdb


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


@dataclass(frozen=True)
class CopiedTable:
    """One table a run copied between the local warehouse and PostgreSQL."""

    name: str
    rows: int


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


class SnapshotReader(Protocol):
    """Leases on the current snapshot for the API, the console and the reports."""

    def current_id(self) -> str | None: ...

    def lease(self) -> AbstractContextManager[SnapshotLease]: ...

    def leases_without_io(self) -> bool:
        """Whether a lease taken now costs no I/O (so it may be taken on the event loop)."""
        ...

    def max_leases(self) -> int | None:
        """How many leases may be held at once without one waiting for a connection (None: no
        such bound). The API admits no more than this (`api.dependencies.snapshot_lease`)."""
        ...

    def close(self) -> None: ...


class Storage(ABC):
    """One storage back end: the warehouse steps a run adds, the snapshot catalog, the readers.

    Built by `moatmetrics.storage.configured.storage_for` and handed to the Dagster assets as
    the `storage` resource; the API, the CLI and the pipeline's summary ask it too.
    """

    #: "duckdb" or "postgres": the dbt target and what the run's metadata says.
    name: ClassVar[str]
    #: Whether a view dbt built survives the next run's copy of `raw` (PostgreSQL mode replaces
    #: the raw tables with DROP ... CASCADE, which takes the staging views with them).
    keeps_dbt_views: ClassVar[bool]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- the warehouse a run writes --------------------------------------------------------
    @abstractmethod
    def after_ingest(self, con: duckdb.DuckDBPyConnection) -> list[CopiedTable]:
        """What a run does once ingest has filled `raw` (caller holds the warehouse lock)."""

    @abstractmethod
    def after_dbt(self, con: duckdb.DuckDBPyConnection) -> list[CopiedTable]:
        """What a run does once dbt has built, before the trust layer reads the marts."""

    # -- the snapshot catalog --------------------------------------------------------------
    @abstractmethod
    def current_snapshot_id(self) -> str | None: ...

    @abstractmethod
    def current_snapshot(self) -> Snapshot | None: ...

    @abstractmethod
    def load_snapshot(self, snapshot_id: str) -> Snapshot:
        """The published snapshot `snapshot_id`; FileNotFoundError or KeyError when unknown."""

    @abstractmethod
    def list_snapshots(self) -> list[Snapshot]:
        """Every published snapshot, oldest first."""

    @abstractmethod
    def publish(
        self, marts: tuple[str, ...] = PUBLISHED_MARTS, *, patch_min_rows: int | None = None
    ) -> Snapshot:
        """Copy the warehouse's marts into a new immutable snapshot and make it current
        (`patch_min_rows`: see `moatmetrics.snapshots.publish`)."""

    @abstractmethod
    def use_snapshot(self, snapshot_id: str) -> Snapshot:
        """Make an earlier published snapshot current again (SnapshotError when unknown)."""

    @abstractmethod
    def prune(self, keep: int, *, dry_run: bool = False) -> list[str]:
        """Remove every snapshot but the newest `keep` and the current one; the ids removed."""

    # -- the readers -----------------------------------------------------------------------
    @abstractmethod
    def snapshot_reader(self) -> SnapshotReader:
        """A reader of the current snapshot, to keep for the life of a process."""
