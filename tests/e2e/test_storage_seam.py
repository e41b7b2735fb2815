"""The storage seam: both back ends answer the same calls the same way.

`moatmetrics.storage.configured.storage_for` picks the back end from the settings; the
pipeline, the API, the CLI and the backup only ever talk to what it returns. The same sequence
of calls (publish twice, read through a lease, switch back, prune) runs on the DuckDB files and
on a fresh PostgreSQL database, and must give the same answers. Real components: snapshot
files written by the real writer from a small warehouse, the machine's PostgreSQL server (as
in CI; without one the PostgreSQL case skips, except in CI where it must run).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from postgres_server import database_url, temporary_database
from snapshot_warehouse import MARTS, small_warehouse

from moatmetrics import snapshots
from moatmetrics.seam.base import SnapshotError, Storage
from moatmetrics.settings import Settings
from moatmetrics.storage.configured import storage_for
from moatmetrics.storage.duckdb import DuckDBStorage
from moatmetrics.storage.postgres import PostgresStorage


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request: pytest.FixtureRequest, home: Settings) -> Iterator[Settings]:
    if request.param == "duckdb":
        yield home
        return
    with temporary_database("moatmetrics_test_seam") as name:
        yield dataclasses.replace(home, warehouse_url=database_url(name))


def _hours(storage: Storage) -> list[tuple[str, float]]:
    """What a reader of the current snapshot sees, through the back end's own reader."""
    reader = storage.snapshot_reader()
    try:
        with reader.lease() as lease:
            lease.cursor.execute(
                f"SELECT staff_id, logged_hours FROM {lease.schema}.staff_utilization"
            )
            rows = lease.cursor.fetchall()
            assert lease.tables["staff_utilization"]["logged_hours"] == "DECIMAL(18,2)"
            return [(staff, float(hours)) for staff, hours in rows]
    finally:
        reader.close()


def test_both_back_ends_answer_the_same_calls_the_same_way(settings: Settings) -> None:
    storage = storage_for(settings)
    expected = PostgresStorage if settings.warehouse_url else DuckDBStorage
    assert type(storage) is expected
    assert storage.current_snapshot() is None and storage.list_snapshots() == []

    small_warehouse(settings, 1)
    first = storage.publish(MARTS)
    small_warehouse(settings, 2)
    second = storage.publish(MARTS)
    assert [s.snapshot_id for s in storage.list_snapshots()] == [
        first.snapshot_id,
        second.snapshot_id,
    ]
    assert storage.current_snapshot_id() == second.snapshot_id
    assert storage.load_snapshot(first.snapshot_id).row_counts == {
        "client_profitability": 3,
        "staff_utilization": 1,
    }
    assert _hours(storage) == [("S1", 2.0)]

    assert storage.use_snapshot(first.snapshot_id).snapshot_id == first.snapshot_id
    assert storage.current_snapshot_id() == first.snapshot_id
    assert _hours(storage) == [("S1", 1.0)]
    with pytest.raises(SnapshotError, match="no published snapshot 'nope'"):
        storage.use_snapshot("nope")
    assert storage.current_snapshot_id() == first.snapshot_id

    # The newest and the current one stay: nothing goes while the older one is served.
    assert storage.prune(1) == []
    storage.use_snapshot(second.snapshot_id)
    assert storage.prune(1, dry_run=True) == [first.snapshot_id]
    assert storage.prune(1) == [first.snapshot_id]
    assert [s.snapshot_id for s in storage.list_snapshots()] == [second.snapshot_id]
    with pytest.raises(ValueError, match="keep must be at least 1"):
        storage.prune(0)


def test_the_file_catalog_refuses_postgres_settings(home: Settings) -> None:
    """A caller that skips the seam in PostgreSQL mode fails at once, saying where to go,
    instead of answering from snapshot files that are not there."""
    pg_settings = dataclasses.replace(home, warehouse_url="postgresql://nobody@127.0.0.1:1/x")
    for call in (
        lambda: snapshots.current_snapshot(pg_settings),
        lambda: snapshots.list_snapshots(pg_settings),
        lambda: snapshots.publish(pg_settings, MARTS),
        lambda: snapshots.prune(pg_settings, 1),
    ):
        with pytest.raises(SnapshotError, match="storage_for"):
            call()
