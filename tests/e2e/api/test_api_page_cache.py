"""Rendered pages are reused within a snapshot, never across one, and every read is audited.

Also the group commit of the gate's writes: many concurrent reads leave one audit entry each,
in an unbroken chain.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

CP = "/api/v1/marts/client_profitability"
QUERY = {"client_id": "C1", "month_to": "2024-01"}


@pytest.fixture
def cached_server(tmp_path: Path, start_server, publish_generation):
    home = tmp_path / "home"
    first = publish_generation(home, 1)
    return home, start_server(home), first


def test_a_page_is_reused_within_a_snapshot_and_renewed_by_a_publish(
    cached_server, publish_generation
) -> None:
    home, server, first = cached_server
    with server.client("viewer") as viewer:
        one = viewer.get(CP, params=QUERY)
        two = viewer.get(CP, params=QUERY)
        csv_page = viewer.get(CP, params={**QUERY, "format": "csv"})
        assert one.status_code == two.status_code == csv_page.status_code == 200
        assert one.content == two.content
        assert one.headers["x-snapshot-id"] == two.headers["x-snapshot-id"] == first.snapshot_id
        assert one.headers["content-type"] == two.headers["content-type"] == "application/json"
        assert csv_page.headers["content-type"].startswith("text/csv")
        assert one.json()["rows"][0]["revenue"] == 1000.5 + 1  # generation 1

        second = publish_generation(home, 2)
        three = viewer.get(CP, params=QUERY)
        assert three.json()["snapshot_id"] == second.snapshot_id
        assert Decimal(str(three.json()["rows"][0]["revenue"])) == Decimal("1002.50")
        # Another filter on the same snapshot is its own page.
        other = viewer.get(CP, params={"client_id": "C2", "month_to": "2024-01"})
        assert other.json()["rows"][0]["client_id"] == "C2"

    with server.client("admin") as admin:
        reads = admin.get("/api/v1/audit", params={"action": "marts.read", "limit": 100}).json()
        served = [entry["details"].get("snapshot_id") for entry in reads["entries"]]
        # Five reads, five entries (newest first), each naming the snapshot it was served from.
        assert served == [second.snapshot_id] * 2 + [first.snapshot_id] * 3


def test_concurrent_reads_are_each_audited_in_one_unbroken_chain(cached_server) -> None:
    _, server, _ = cached_server
    requests = 120
    with server.client("viewer") as viewer, ThreadPoolExecutor(24) as pool:
        statuses = list(
            pool.map(lambda i: viewer.get(CP, params={"offset": i % 3}).status_code,
                     range(requests))
        )  # fmt: skip
    assert statuses == [200] * requests
    with server.client("admin") as admin:
        reads = admin.get("/api/v1/audit", params={"action": "marts.read", "limit": 1}).json()
        assert reads["total"] == requests
        verification = admin.get("/api/v1/audit/verify").json()
        assert verification["valid"] is True, verification
