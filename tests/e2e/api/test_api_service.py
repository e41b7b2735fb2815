"""Health, catalog, snapshots, docs and the no-snapshot-yet state, over real HTTP."""

from __future__ import annotations

import httpx

from api.mart_catalog import MARTS
from moatmetrics.marts import PUBLISHED_MARTS

PROBLEM = "application/problem+json"


def test_catalog_covers_the_published_marts() -> None:
    assert tuple(MARTS) == PUBLISHED_MARTS


def test_health_names_the_current_snapshot(client: httpx.Client, snapshot_id: str) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = {"status": "ok", "snapshot_id": snapshot_id, "snapshot": "ok", "problem": None}
    assert response.json() == body


def test_list_marts(client: httpx.Client, snapshot_id: str) -> None:
    body = client.get("/api/v1/marts").json()
    assert body["snapshot_id"] == snapshot_id
    marts = {m["name"]: m for m in body["marts"]}
    assert list(marts) == list(PUBLISHED_MARTS)
    cp = marts["client_profitability"]
    assert cp["row_count"] == 7 and cp["snapshot_id"] == snapshot_id
    assert cp["grain"] == ["client_id", "month"] and cp["filters"] == ["client_id"]
    columns = {c["name"]: c for c in cp["columns"]}
    assert columns["revenue"]["type"] == "decimal"
    assert columns["revenue"]["sql_type"] == "DECIMAL(18,2)"
    assert columns["month"]["type"] == "date" and not columns["month"]["nullable"]
    assert columns["gross_margin"]["type"] == "number" and columns["gross_margin"]["nullable"]
    assert "internal_note" not in columns  # not part of the public interface
    assert marts["license_utilization"]["row_count"] == 5
    assert marts["license_utilization"]["filters"] == ["client_id", "vendor", "product"]
    staff_columns = {c["name"]: c for c in marts["staff_utilization"]["columns"]}
    assert staff_columns["confidence"]["sql_type"] is None  # not in this snapshot


def test_snapshots_list_and_current(client: httpx.Client, snapshot_id: str) -> None:
    listing = client.get("/api/v1/snapshots").json()
    assert listing["current_snapshot_id"] == snapshot_id
    assert [s["snapshot_id"] for s in listing["snapshots"]] == [snapshot_id]
    current = client.get("/api/v1/snapshots/current").json()
    assert current["snapshot_id"] == snapshot_id and current["current"] is True
    assert current["row_counts"] == {
        "client_profitability": 7,
        "license_utilization": 5,
        "staff_utilization": 4,
        "trends": 18,
        "actions": 4,
        "forecasts": 3,
        "anomalies": 2,
    }
    assert current["upload_ids"] == ["u0001", "u1001"]  # accepted uploads only
    assert current["created_at"].startswith("20")


def test_openapi_docs(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "MoatMetrics API"
    paths = spec["paths"]
    for path in (
        "/health",
        "/api/v1/marts",
        "/api/v1/marts/client_profitability",
        "/api/v1/marts/license_utilization",
        "/api/v1/marts/staff_utilization",
        "/api/v1/snapshots",
        "/api/v1/snapshots/current",
    ):
        assert path in paths, path
    params = {p["name"] for p in paths["/api/v1/marts/license_utilization"]["get"]["parameters"]}
    assert {"client_id", "vendor", "product", "month_from", "sort", "format"} <= params
    row = spec["components"]["schemas"]["ClientProfitabilityRow"]["properties"]
    assert row["revenue"]["type"] == "number"


def test_unknown_path_is_problem_json(client: httpx.Client) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404


def test_without_snapshot(empty_server) -> None:
    with empty_server.client() as http:
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["snapshot_id"] is None

        for path in ("/api/v1/marts/client_profitability", "/api/v1/snapshots/current"):
            response = http.get(path)
            assert response.status_code == 503, path
            assert response.headers["content-type"] == PROBLEM
            problem = response.json()
            assert problem["status"] == 503
            assert problem["type"].endswith("no-snapshot")
            assert "No snapshot" in problem["title"] and "moatmetrics run" in problem["detail"]

        catalog = http.get("/api/v1/marts").json()
        assert catalog["snapshot_id"] is None
        assert all(m["row_count"] is None for m in catalog["marts"])
        assert http.get("/api/v1/snapshots").json() == {
            "current_snapshot_id": None,
            "snapshots": [],
        }
        assert http.get("/api/v1/marts/nope").status_code == 404
