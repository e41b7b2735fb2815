"""Mart pages over real HTTP: filters, months, sorting, paging, CSV, exact decimals, errors."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

CP = "/api/v1/marts/client_profitability"
LU = "/api/v1/marts/license_utilization"
SU = "/api/v1/marts/staff_utilization"
PROBLEM = "application/problem+json"


def keys(body: dict, *columns: str) -> list[tuple]:
    return [tuple(row[c] for c in columns) for row in body["rows"]]


def test_default_page_is_in_grain_order(client: httpx.Client, snapshot_id: str) -> None:
    response = client.get(CP)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert {k: body[k] for k in ("mart", "snapshot_id", "total", "limit", "offset")} == {
        "mart": "client_profitability",
        "snapshot_id": snapshot_id,
        "total": 7,
        "limit": 100,
        "offset": 0,
    }
    assert keys(body, "client_id", "month")[:4] == [
        ("C1", "2024-01-01"),
        ("C1", "2024-02-01"),
        ("C1", "2024-03-01"),
        ("C2", "2024-01-01"),
    ]
    assert response.headers["x-snapshot-id"] == snapshot_id


def test_row_values_and_types(client: httpx.Client) -> None:
    response = client.get(CP, params={"client_id": "C1", "month_to": "2024-01"})
    row = response.json()["rows"][0]
    assert row["client_name"] == "Acme"
    assert row["revenue"] == 1001.5 and row["labor_hours"] == 7.5
    # Exact decimal text, 2 places, as JSON numbers (not strings, not floats like 7.5).
    assert '"revenue":1001.50' in response.text
    assert '"labor_hours":7.50' in response.text  # stored as DECIMAL(18,4)
    assert '"recurring_revenue":500.75' in response.text
    assert isinstance(row["gross_margin"], float) and 0 < row["gross_margin"] < 1
    assert row["confidence"] == 0.5 and row["needs_review"] is True
    assert row["explanation"] == "generation 1"
    assert "internal_note" not in row


def test_null_ratios(client: httpx.Client) -> None:
    rows = client.get(CP, params={"client_id": ["C2", "C3"]}).json()["rows"]
    by_key = {(r["client_id"], r["month"]): r for r in rows}
    assert by_key[("C3", "2024-02-01")]["gross_margin"] is None  # revenue 0
    assert by_key[("C2", "2024-03-01")]["gross_margin"] is None  # inf in the mart


def test_optional_columns_missing_from_snapshot_are_null(client: httpx.Client) -> None:
    rows = client.get(SU).json()["rows"]
    assert len(rows) == 4
    assert all(r["confidence"] is None and r["explanation"] is None for r in rows)
    unknown_staff = rows[-1]
    assert unknown_staff["staff_id"] == "S9" and unknown_staff["available_hours"] is None


def test_filters_with_repeated_values(client: httpx.Client) -> None:
    body = client.get(CP, params={"client_id": ["C1", "C3"]}).json()
    assert body["total"] == 4
    assert {r["client_id"] for r in body["rows"]} == {"C1", "C3"}

    body = client.get(LU, params={"client_id": "C1", "product": "M365 E3"}).json()
    assert keys(body, "product", "month") == [("M365 E3", "2024-01-01"), ("M365 E3", "2024-02-01")]
    body = client.get(LU, params={"vendor": ["Google", "Microsoft"]}).json()
    assert body["total"] == 4
    assert client.get(SU, params={"staff_id": "S2"}).json()["total"] == 1
    assert client.get(CP, params={"client_id": "nobody"}).json()["total"] == 0


def test_license_rows_keep_unknowns(client: httpx.Client) -> None:
    rows = client.get(LU).json()["rows"]
    assert keys({"rows": rows}, "client_id", "vendor", "product")[-1] == ("C2", None, "Backup")
    workspace = next(r for r in rows if r["product"] == "Workspace")
    assert workspace["seats_billed"] is None and workspace["monthly_leakage"] is None
    assert workspace["unit_cost"] == 12.1 and workspace["utilization_rate"] == 0.75


@pytest.mark.parametrize(
    ("params", "expected_months"),
    [
        ({"month_from": "2024-02"}, {"2024-02-01", "2024-03-01"}),
        ({"month_to": "2024-01"}, {"2024-01-01"}),
        ({"month_from": "2024-02", "month_to": "2024-02"}, {"2024-02-01"}),
        ({"month_from": "2024-02-15", "month_to": "2024-03-31"}, {"2024-02-01", "2024-03-01"}),
        ({"month_from": "2025-01"}, set()),
    ],
)
def test_month_range_is_inclusive(
    client: httpx.Client, params: dict, expected_months: set[str]
) -> None:
    rows = client.get(CP, params=params).json()["rows"]
    assert {r["month"] for r in rows} == expected_months


def test_sort_ascending_descending_and_ties(client: httpx.Client) -> None:
    body = client.get(CP, params={"sort": "-revenue"}).json()
    revenues = [r["revenue"] for r in body["rows"]]
    assert revenues == sorted(revenues, reverse=True) and revenues[0] == 2201.5

    body = client.get(CP, params={"sort": "revenue"}).json()
    assert body["rows"][0]["client_id"] == "C3"

    body = client.get(CP, params={"sort": "-month,client_id"}).json()
    assert keys(body, "month", "client_id")[:3] == [
        ("2024-03-01", "C1"),
        ("2024-03-01", "C2"),
        ("2024-02-01", "C1"),
    ]
    body = client.get(LU, params={"sort": "-vendor"}).json()
    assert body["rows"][-1]["vendor"] is None  # nulls last, whichever direction


def test_pagination_with_total(client: httpx.Client) -> None:
    seen = []
    for offset in (0, 3, 6):
        body = client.get(CP, params={"limit": 3, "offset": offset}).json()
        assert body["total"] == 7 and body["limit"] == 3 and body["offset"] == offset
        seen += keys(body, "client_id", "month")
    assert len(seen) == 7 and len(set(seen)) == 7
    assert seen == keys(client.get(CP).json(), "client_id", "month")
    past_end = client.get(CP, params={"offset": 50}).json()
    assert past_end["total"] == 7 and past_end["rows"] == []
    assert client.get(CP, params={"limit": 0}).json()["rows"] == []


def test_csv(client: httpx.Client, snapshot_id: str) -> None:
    response = client.get(CP, params={"format": "csv", "client_id": "C1", "sort": "-month"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="client_profitability-{snapshot_id}.csv"'
    )
    assert response.headers["x-total-count"] == "3"
    rows = list(csv.reader(io.StringIO(response.text)))
    header = rows[0]
    assert header[:4] == ["client_id", "client_name", "month", "revenue"]
    assert "internal_note" not in header
    first = dict(zip(header, rows[1], strict=True))
    assert first["month"] == "2024-03-01"
    assert first["revenue"] == "1201.50" and first["labor_hours"] == "9.50"
    assert first["needs_review"] == "true"
    assert len(rows) == 4


def test_csv_writes_nulls_as_empty(client: httpx.Client) -> None:
    text = client.get(LU, params={"format": "csv", "product": "Workspace"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["seats_billed"] == "" and rows[0]["monthly_leakage"] == ""
    assert rows[0]["unit_cost"] == "12.10"


def test_unknown_mart_is_404_problem(client: httpx.Client) -> None:
    response = client.get("/api/v1/marts/clients_secret")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["title"] == "Unknown mart" and "client_profitability" in problem["detail"]
    assert set(problem) >= {"type", "title", "status", "detail"}


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (CP, {"month_from": "2024-13"}, "month_from"),
        (CP, {"month_from": "March"}, "month_from"),
        (CP, {"month_to": "2024-02-30"}, "month_to"),
        (CP, {"month_from": "2024-03", "month_to": "2024-01"}, "month_to"),
        (CP, {"sort": "revenue;DROP TABLE x"}, "sort"),
        (CP, {"sort": "nope"}, "sort"),
        (CP, {"sort": "revenue,-revenue"}, "sort"),
        (CP, {"limit": 10001}, "limit"),
        (CP, {"limit": -1}, "limit"),
        (CP, {"offset": -5}, "offset"),
        (CP, {"format": "xml"}, "format"),
        (CP, {"staff_id": "S1"}, "staff_id"),  # a filter of another mart
        (SU, {"client": "C1"}, "client"),
        (CP, {"client_id": "C1\x00"}, "client_id"),  # PostgreSQL text cannot hold NUL
        ("/api/v1/snapshots", {"x": "\x00"}, "x"),  # any route, any value
    ],
)
def test_bad_parameters_are_422_problems(
    client: httpx.Client, path: str, params: dict, parameter: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["title"]
    assert any(e["loc"][-1] == parameter for e in problem["errors"]), problem
    assert "Traceback" not in response.text


def test_filter_values_are_data_not_sql(client: httpx.Client) -> None:
    body = client.get(CP, params={"client_id": "C1' OR '1'='1"}).json()
    assert body["total"] == 0
