"""Publishing while the API is under load: no request may fail or mix two snapshots."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from moatmetrics.seam.base import Snapshot
from moatmetrics.snapshots import POINTER_NAME

PATHS = [
    "/api/v1/marts/client_profitability?client_id=C1&month_to=2024-01",
    "/api/v1/marts/client_profitability?format=csv&client_id=C1&month_to=2024-01",
    "/api/v1/marts/staff_utilization?staff_id=S9",
    "/api/v1/marts",
    "/health",
]


def generation_of(path: str, response: httpx.Response) -> int | None:
    """The data generation a response shows (see conftest: values encode the generation)."""
    if "format=csv" in path:
        header, row = response.text.splitlines()[:2]
        revenue = Decimal(dict(zip(header.split(","), row.split(","), strict=True))["revenue"])
        return int(revenue - Decimal("1000.50"))
    if "client_profitability" in path:
        return int(Decimal(str(response.json()["rows"][0]["revenue"])) - Decimal("1000.50"))
    if "staff_utilization" in path:
        return int(response.json()["rows"][0]["logged_hours"])
    return None


def served_snapshot(path: str, response: httpx.Response) -> str | None:
    if "format=csv" in path:
        return response.headers["x-snapshot-id"]
    return response.json().get("snapshot_id")


@pytest.mark.timeout(900)
def test_publish_during_a_burst_of_requests(
    tmp_path: Path,
    start_server: Callable[[Path], Any],
    publish_generation: Callable[..., Snapshot],
) -> None:
    """Requests run while generations 2, 3 and 4 are published. Each publish starts once 45
    responses of the batch before it arrived, with the rest still queued or in flight; the
    next batch waits for the publish to return. So every batch after a publish must see that
    generation or a newer one (the switch is forced, not left to the scheduler), and any
    request may overlap a publish: none may fail or mix two snapshots."""
    home = tmp_path / "home"
    generations = {publish_generation(home, 1).snapshot_id: 1}
    server = start_server(home)

    batch = 60
    published = {generation: threading.Event() for generation in (2, 3, 4)}
    done = threading.Semaphore(0)
    results: list[tuple[str, int, str | None, int | None, int]] = []
    lock = threading.Lock()

    def fetch(index: int) -> None:
        path = PATHS[index % len(PATHS)]
        at_least = 1 + index // batch  # the generation published before this request starts
        if at_least > 1:
            published[at_least].wait()
        try:
            with server.client() as http:
                response = http.get(path)
            status = response.status_code
            outcome = (
                (path, status, served_snapshot(path, response), generation_of(path, response))
                if status == 200
                else (path, status, response.text, None)
            )
        except Exception as exc:  # any transport error is a failure too
            outcome = (path, -1, repr(exc), None)
        with lock:
            results.append((*outcome, at_least))
        done.release()

    # The batches are queued in order, so a waiting request never holds up an earlier one.
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(fetch, i) for i in range(4 * batch)]
        for generation in (2, 3, 4):
            for _ in range(45):  # publish after 45 responses of the batch before, mid-batch
                done.acquire()
            generations[publish_generation(home, generation).snapshot_id] = generation
            published[generation].set()
            for _ in range(batch - 45):
                done.acquire()
        wait(futures)

    failures = [r for r in results if r[1] != 200]
    assert not failures, failures[:5]
    assert len(results) == 4 * batch
    served = {snapshot for _, _, snapshot, _, _ in results}
    assert served <= set(generations)
    assert len({s for s in served if s}) == 4, served  # each generation was served
    for path, _, snapshot, generation, at_least in results:
        if snapshot is not None:  # never an older snapshot than the one published before
            assert generations[snapshot] >= at_least, (path, snapshot, at_least)
        if generation is not None:  # rows come from the snapshot the response names
            assert generation == generations[snapshot], (path, snapshot, generation)

    last = max(generations, key=generations.get)
    with server.client() as http:
        assert http.get("/health").json()["snapshot_id"] == last
        body = http.get(PATHS[0]).json()
        assert body["snapshot_id"] == last and body["rows"][0]["explanation"] == "generation 4"
        listing = http.get("/api/v1/snapshots").json()
    assert [s["snapshot_id"] for s in listing["snapshots"]] == sorted(generations, reverse=True)
    assert [s["current"] for s in listing["snapshots"]] == [True, False, False, False]


@pytest.mark.timeout(900)
def test_broken_snapshot_is_a_problem_not_a_traceback(
    tmp_path: Path,
    start_server: Callable[[Path], Any],
    publish_generation: Callable[..., Snapshot],
    backend,
) -> None:
    home = tmp_path / "home"
    publish_generation(home, 1)
    server = start_server(home)
    # A later publish whose client_profitability lacks a required column.
    publish_generation(home, 2, before_publish=_drop_revenue)

    with server.client() as http:
        response = http.get("/api/v1/marts/client_profitability")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert "revenue" in response.json()["detail"]
        assert "Traceback" not in response.text and str(home) not in response.text
        assert http.get("/api/v1/marts/staff_utilization").status_code == 200

        _point_at_missing_snapshot(home, backend)
        response = http.get("/api/v1/marts/staff_utilization")
        assert response.status_code == 503
        assert response.json()["type"].endswith("snapshot-unavailable")
        assert str(home) not in response.text
        assert http.get("/health").status_code == 200


def _point_at_missing_snapshot(home: Path, backend) -> None:
    """The current-snapshot pointer names a snapshot whose data is gone."""
    missing = "20000101T000000000000Z-000000"
    if not backend.postgres:
        (home / "snapshots" / POINTER_NAME).write_text(missing + "\n")
        return
    import psycopg

    from moatmetrics.warehouse.pg_snapshots import CATALOG_TABLE

    with psycopg.connect(backend.url(home)) as pg:
        pg.execute(f"UPDATE {CATALOG_TABLE} SET is_current = false WHERE is_current")
        pg.execute(
            f"INSERT INTO {CATALOG_TABLE} (snapshot_id, snapshot_schema, created_at, row_counts,"
            " upload_ids, is_current) VALUES (%s, 'snapshot_gone', '', '{}', '[]', true)",
            [missing],
        )


def _drop_revenue(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("ALTER TABLE marts.client_profitability DROP COLUMN revenue")
    finally:
        con.close()
