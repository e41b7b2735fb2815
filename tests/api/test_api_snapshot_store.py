"""The connection cache directly: a lease survives later publishes and eviction."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from api.snapshot_store import NoSnapshotError, SnapshotStore
from moatmetrics.settings import get_settings
from moatmetrics.snapshots import Snapshot

COUNT = "SELECT count(*) FROM marts.staff_utilization"


def test_lease_outlives_publishes_and_eviction(
    tmp_path: Path, publish_generation: Callable[..., Snapshot]
) -> None:
    store = SnapshotStore(dataclasses.replace(get_settings(), home=tmp_path), keep=2)
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
