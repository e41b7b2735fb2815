"""Parquet and Arrow exports: the same rows as the JSON page, with exact types.

Read back with pyarrow, every page equals the JSON rows (money as exact decimals, dates as
dates, non-finite rates as null), in both modes (DuckDB files and PostgreSQL schemas). Refusals
come from the gate before the handler runs: a request without a valid key is answered 401
even where no snapshot exists (a query would have made it a 503).
"""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.mart_catalog import MARTS

PAGES = [
    ("client_profitability", {}),
    ("client_profitability", {"client_id": ["C2", "C3"], "sort": "-revenue", "limit": 2}),
    ("license_utilization", {"vendor": "Microsoft"}),
    ("staff_utilization", {}),
    ("staff_utilization", {"staff_id": "nobody"}),  # an empty page keeps its schema
]


def _from_json(mart: str, rows: list[dict]) -> list[dict]:
    kinds = {c.name: c.kind for c in MARTS[mart].columns}
    out = []
    for row in rows:
        values = {}
        for name, value in row.items():
            if value is not None and kinds[name] == "decimal":
                value = Decimal(value).quantize(Decimal("0.01"))
            elif value is not None and kinds[name] == "date":
                value = date.fromisoformat(value)
            elif value is not None and kinds[name] == "number":
                value = float(value)
            values[name] = value
        out.append(values)
    return out


def _read(format: str, body: bytes) -> pa.Table:
    if format == "parquet":
        return pq.read_table(io.BytesIO(body))
    return pa.ipc.open_stream(body).read_all()


@pytest.mark.parametrize("format", ["parquet", "arrow"])
@pytest.mark.parametrize(("mart", "params"), PAGES)
def test_columnar_page_equals_the_json_rows(client, snapshot_id, format, mart, params) -> None:
    as_json = client.get(f"/api/v1/marts/{mart}", params=params)
    exported = client.get(f"/api/v1/marts/{mart}", params={**params, "format": format})
    assert as_json.status_code == exported.status_code == 200
    expected = _from_json(mart, json.loads(as_json.content, parse_float=str)["rows"])

    table = _read(format, exported.content)
    assert table.column_names == list(MARTS[mart].column_names)
    for column in MARTS[mart].columns:
        if column.kind == "decimal":
            assert table.schema.field(column.name).type == pa.decimal128(38, 2)
    assert table.to_pylist() == expected

    media, extension = {
        "parquet": ("application/vnd.apache.parquet", "parquet"),
        "arrow": ("application/vnd.apache.arrow.stream", "arrows"),
    }[format]
    assert exported.headers["content-type"] == media
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="{mart}-{snapshot_id}.{extension}"'
    )
    assert exported.headers["x-snapshot-id"] == snapshot_id
    assert exported.headers["x-total-count"] == as_json.headers["x-total-count"]
    assert exported.headers["etag"] != as_json.headers["etag"]


@pytest.mark.parametrize("format", ["parquet", "arrow"])
def test_refused_before_any_query(empty_server, published, format) -> None:
    server, _ = published
    url = f"/api/v1/marts/client_profitability?format={format}"
    with empty_server.client(None) as nobody:
        assert nobody.get(url).status_code == 401
    with empty_server.client("viewer") as viewer:
        # With a key the handler runs and finds no snapshot: that is what a query would meet.
        assert viewer.get(url).status_code == 503
    with server.client(None) as nobody:
        bad = nobody.get(url, headers={"Authorization": "Bearer mmk_00000000_" + "x" * 43})
        assert bad.status_code == 401
        assert bad.headers["content-type"] == "application/problem+json"
