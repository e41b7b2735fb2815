"""The snapshot stores directly: a lease keeps its snapshot through later publishes.

DuckDB: the connection cache (a lease survives publishes and eviction). PostgreSQL: a lease
pins its `snapshot_<id>` schema while the catalog and the `marts` views move on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from moatmetrics.seam.base import NoSnapshotError, Snapshot
from moatmetrics.settings import get_settings
from moatmetrics.storage.duckdb import DuckDBSnapshotReader

COUNT = "SELECT count(*) FROM marts.staff_utilization"


def test_lease_outlives_publishes_and_eviction(
    tmp_path: Path, publish_generation: Callable[..., Snapshot], backend
) -> None:
    if backend.postgres:
        pytest.skip("DuckDB's connection cache; the PostgreSQL store is tested below")
    store = DuckDBSnapshotReader(dataclasses.replace(get_settings(), home=tmp_path), keep=2)
    with pytest.raises(NoSnapshotError):
        store.lease().__enter__()

    first = publish_generation(tmp_path, 1)
    with store.lease() as old:
        assert old.snapshot.snapshot_id == first.snapshot_id
        assert "revenue" in old.tables["client_profitability"]
        old_entry = store._entries[first.snapshot_id]
        newer = []
        for generation in (2, 3, 4):
            newer.append(publish_generation(tmp_path, generation).snapshot_id)
            with store.lease() as lease:
                assert lease.snapshot.snapshot_id == newer[-1]
                assert lease.cursor.execute(COUNT).fetchone() == (4,)
        # `first` fell out of the cache but is still leased: its cursor keeps working.
        assert first.snapshot_id not in store._entries
        assert old.cursor.execute(COUNT).fetchone() == (4,)
    with pytest.raises(duckdb.Error):
        old_entry.connection.execute(COUNT)  # closed once its last lease ended
    assert list(store._entries) == newer[-2:]  # at most `keep` connections stay open

    with store.lease() as lease:
        cursor = lease.cursor
    with pytest.raises(duckdb.Error):
        cursor.execute(COUNT)  # per-request cursors are closed with the lease
    store.close()
    assert not store._entries


def test_postgres_lease_pins_its_schema_while_publishes_switch(
    tmp_path: Path, publish_generation: Callable[..., Snapshot], backend
) -> None:
    if not backend.postgres:
        pytest.skip("PostgreSQL store: runs in the MOATMETRICS_TEST_BACKEND=postgres pass")
    from api.mart_catalog import MARTS
    from api.mart_queries import MartQuery, fetch_page
    from moatmetrics.storage.configured import storage_for

    settings = backend.settings(tmp_path)
    store = storage_for(settings).snapshot_reader()
    assert store.current_id() is None
    with pytest.raises(NoSnapshotError):
        store.lease().__enter__()

    first = publish_generation(tmp_path, 1)
    spec, query = MARTS["staff_utilization"], MartQuery(filters={"staff_id": ["S9"]})
    with store.lease() as old:
        assert old.snapshot.snapshot_id == first.snapshot_id == store.current_id()
        assert old.tables["client_profitability"]["revenue"] == "DECIMAL(18,2)"
        second = publish_generation(tmp_path, 2)
        assert store.current_id() == second.snapshot_id
        # The running request still reads generation 1 (logged_hours of S9 = generation).
        pinned = fetch_page(old.cursor, spec, query, old.tables, old.schema, old.dialect)
        assert pinned[1][0]["logged_hours"] == 1
        with store.lease() as new:
            fresh = fetch_page(new.cursor, spec, query, new.tables, new.schema, new.dialect)
            assert new.snapshot.snapshot_id == second.snapshot_id
            assert fresh[1][0]["logged_hours"] == 2
        with pytest.raises(Exception, match="read-only"):  # sessions cannot change a snapshot
            old.cursor.execute(f"DELETE FROM {old.schema}.staff_utilization")
    store.close()
