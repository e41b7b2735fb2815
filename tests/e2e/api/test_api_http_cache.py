"""HTTP caching of mart pages: a strong ETag per (snapshot, query), revalidated with 304.

A published snapshot never changes, so the tag is exact: the same query on the same snapshot
gets the same tag (whatever the order of its parameters), and a publish changes it. A 304 is
still a governed read: no key, no answer; and it is audited with its status and snapshot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CP = "/api/v1/marts/client_profitability"


@pytest.fixture
def server_home(tmp_path: Path, start_server, publish_generation):
    home = tmp_path / "home"
    first = publish_generation(home, 1)
    return home, start_server(home), first


def test_etag_is_per_snapshot_and_query_and_answers_304(server_home, publish_generation) -> None:
    home, server, first = server_home
    with server.client("viewer") as viewer:
        page = viewer.get(f"{CP}?client_id=C1&client_id=C2&month_from=2024-02")
        assert page.status_code == 200
        etag = page.headers["etag"]
        assert etag.startswith('"') and not etag.startswith("W/")  # strong
        assert page.headers["cache-control"] == "private, no-cache"
        # Same question, parameters in another order (and the default limit spelt out).
        same = viewer.get(f"{CP}?month_from=2024-02-01&limit=100&client_id=C2&client_id=C1")
        assert same.headers["etag"] == etag
        assert viewer.get(CP, params={"client_id": "C1"}).headers["etag"] != etag
        csv_tag = viewer.get(f"{CP}?client_id=C1&client_id=C2&month_from=2024-02&format=csv")
        assert csv_tag.headers["etag"] != etag

        revalidated = viewer.get(
            f"{CP}?client_id=C1&client_id=C2&month_from=2024-02",
            headers={"If-None-Match": f'"other", {etag}'},
        )
        assert revalidated.status_code == 304
        assert revalidated.content == b""
        assert revalidated.headers["etag"] == etag
        assert revalidated.headers["cache-control"] == "private, no-cache"
        assert revalidated.headers["x-snapshot-id"] == first.snapshot_id
        assert "ratelimit-limit" in revalidated.headers  # still rate-limited

        second = publish_generation(home, 2)
        after = viewer.get(
            f"{CP}?client_id=C1&client_id=C2&month_from=2024-02",
            headers={"If-None-Match": etag},
        )
        assert after.status_code == 200
        assert after.headers["etag"] != etag
        assert after.json()["snapshot_id"] == second.snapshot_id
        assert after.content != page.content

    with server.client(None) as nobody:
        refused = nobody.get(
            f"{CP}?client_id=C1&client_id=C2&month_from=2024-02", headers={"If-None-Match": "*"}
        )
        assert refused.status_code == 401

    with server.client("admin") as admin:
        reads = admin.get("/api/v1/audit", params={"action": "marts.read", "limit": 100}).json()
        statuses = [(e["status"], e["details"].get("snapshot_id")) for e in reads["entries"]]
    # Newest first: the 401, the 200 after the publish, the 304, the four 200s before it.
    assert statuses == [
        (401, None),
        (200, second.snapshot_id),
        (304, first.snapshot_id),
        *[(200, first.snapshot_id)] * 4,
    ]
