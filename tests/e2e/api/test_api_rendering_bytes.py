"""The lean JSON and CSV renderers write the same bytes as the pydantic page model did.

The reference below is the previous implementation, kept here verbatim in spirit: build the
`MartPage` model from the fetched rows (validating every row), `model_dump_json()`, then drop
the quotes around the decimal columns' values; CSV from the validated rows. Every page of
every mart, in several sorts, filters and page sizes, must come out byte-identical, in both
modes (DuckDB snapshot files and PostgreSQL schemas).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from api.mart_catalog import MARTS, MartSpec
from api.mart_page_output import _csv_text, page_csv, page_json
from api.mart_queries import PageRows, build_query, fetch_page, read_rows
from moatmetrics.seam.base import Snapshot
from moatmetrics.storage.configured import storage_for


def _reference_json(spec: MartSpec, page) -> bytes:
    decimals = "|".join(re.escape(c.name) for c in spec.columns if c.kind == "decimal")
    pattern = re.compile('"(' + decimals + ')":"(-?[0-9]+(?:\\.[0-9]+)?)"')
    return pattern.sub(r'"\1":\2', page.model_dump_json()).encode()


def _reference_csv(spec: MartSpec, page) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(spec.column_names)
    for row in page.rows:
        writer.writerow([_csv_text(getattr(row, name)) for name in spec.column_names])
    return buffer.getvalue().encode()


QUERIES = [
    ({}, None, None, None, 100, 0),
    ({}, None, None, None, 2, 1),
    ({}, None, None, None, 10, 500),  # past the end: an empty page with the total
    ({}, "2024-02", "2024-03", None, 100, 0),
]


def _sorts(spec: MartSpec) -> list[str]:
    return [f"-{c.name}" for c in spec.columns] + [c.name for c in spec.columns[:3]]


def test_json_and_csv_bytes_are_those_of_the_pydantic_page(
    tmp_path: Path, publish_generation: Callable[..., Snapshot], backend
) -> None:
    snapshot = publish_generation(tmp_path, 1)
    store = storage_for(backend.settings(tmp_path)).snapshot_reader()
    compared = 0
    try:
        for spec in MARTS.values():
            with store.lease() as lease:
                if spec.name not in lease.tables:
                    continue
                cases = [*QUERIES, *(({}, None, None, s, 100, 0) for s in _sorts(spec))]
                # month_from / month_to need a month column (client_risk has none: a 422).
                cases = [c for c in cases if spec.month_column or not (c[1] or c[2])]
                first_filter = spec.filters[0]
                cases.append(({first_filter: ["C1", "S1", "C2"]}, None, None, None, 100, 0))
                for filters, month_from, month_to, sort, limit, offset in cases:
                    query = build_query(spec, filters, month_from, month_to, sort, limit, offset)
                    total, rows = fetch_page(
                        lease.cursor, spec, query, lease.tables, lease.schema, lease.dialect
                    )
                    model = spec.page_model(
                        mart=spec.name, snapshot_id=snapshot.snapshot_id, total=total,
                        limit=limit, offset=offset, rows=rows,
                    )  # fmt: skip
                    lean = read_rows(spec, lease, query)
                    assert lean.total == total
                    assert page_json(spec, lean).body == _reference_json(spec, model)
                    assert page_csv(spec, lean).body == _reference_csv(spec, model)
                    compared += 1
    finally:
        store.close()
    assert compared > 60
    # The data reach the cases that matter: exact money, a null rate, a past-the-end page.
    with storage_for(backend.settings(tmp_path)).snapshot_reader().lease() as lease:
        spec = MARTS["client_profitability"]
        page = read_rows(spec, lease, build_query(spec, {}, None, None, None, 100, 0))
    assert any(row["gross_margin"] is None for row in page.rows)
    assert any(row["revenue"] == Decimal("1001.50") for row in page.rows)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("Zürich GmbH", 0.1 + 0.2), ('Say "hi"\n\u2028', 1e-7), ("\x1f", 1e16), ("ok", 2.0)],
)
def test_strings_and_rates_write_like_pydantic(text: str, rate: float) -> None:
    spec = MARTS["staff_utilization"]
    row: dict[str, object] = {
        c.name: rate if c.kind == "number" else Decimal("-0.50") if c.kind == "decimal" else None
        for c in spec.columns
    }
    row |= {"staff_id": "S1", "staff_name": text, "month": date(2024, 1, 1)}
    model = spec.page_model(mart=spec.name, snapshot_id="s", total=1, limit=1, offset=0, rows=[row])
    lean = PageRows(spec.name, "s", 1, 1, 0, [row])
    assert page_json(spec, lean).body == _reference_json(spec, model)
    assert page_csv(spec, lean).body == _reference_csv(spec, model)
