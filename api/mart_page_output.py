"""Render a mart page as JSON or CSV with exact decimal text.

Money must reach a BI tool exactly as stored ("1200.50", not 1200.5 or 1200.4999...). JSON is
written by orjson from the fetched rows, Decimal as a JSON string; then the quotes around the
values of the mart's decimal columns are removed. That is safe: inside a JSON string every `"`
is escaped, so the pattern `"<column>":"<digits>"` can only match a real key and its value, and
the values are DECIMAL(38,2) text from DuckDB (digits, optional sign and point, no exponent).

Both formats are built from rows already fetched in full, so a response never depends on a
database cursor that outlives the request. CSV text cells go through the product's one formula
neutraliser (`moatmetrics.formulas`): a client named `=HYPERLINK(...)` stays text in Excel.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Response

from api.mart_catalog import MARTS, MartSpec
from api.mart_queries import PageRows
from moatmetrics.formulas import neutralise

_DECIMAL_VALUES = {
    name: re.compile(
        b'"('
        + b"|".join(re.escape(c.name.encode()) for c in spec.columns if c.kind == "decimal")
        + b')":"(-?[0-9]+(?:\\.[0-9]+)?)"'
    )
    for name, spec in MARTS.items()
}


def _headers(page: PageRows) -> dict[str, str]:
    return {"X-Snapshot-Id": page.snapshot_id, "X-Total-Count": str(page.total)}


def _decimal_text(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def page_json(spec: MartSpec, page: PageRows) -> Response:
    """The page model's JSON (`MartPage`: same keys, same order, same bytes) written by orjson
    from the fetched rows, without building and validating a pydantic model per row."""
    body = orjson.dumps(
        {
            "mart": page.mart,
            "snapshot_id": page.snapshot_id,
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
            "rows": page.rows,
        },
        default=_decimal_text,
    )
    body = _DECIMAL_VALUES[spec.name].sub(rb'"\1":\2', body)
    return Response(body, media_type="application/json", headers=_headers(page))


def _csv_text(value: object) -> str:
    """Numbers, dates and flags as text (never altered); text from the data neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(value) if isinstance(value, str) else str(value)


def page_csv(spec: MartSpec, page: PageRows) -> Response:
    """RFC 4180 CSV with a header row; the page's snapshot is in the file name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = spec.column_names
    writer.writerow(names)
    writer.writerows([_csv_text(row[name]) for name in names] for row in page.rows)
    filename = f"{spec.name}-{page.snapshot_id}.csv"
    headers = {**_headers(page), "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


#: Media type and file extension of each columnar export format.
COLUMNAR_FORMATS = {
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "arrow": ("application/vnd.apache.arrow.stream", "arrows"),
}


def page_columnar(
    spec: MartSpec, snapshot_id: str, total: int, table: pa.Table, format: str
) -> Response:
    """A page as a Parquet file or an Arrow IPC stream, written from Arrow batches.

    Column types come from `api.mart_queries.arrow_schema`: money is decimal128(38, 2), so a BI
    tool gets exact values; the snapshot id is in the file name like the CSV export.
    """
    media_type, extension = COLUMNAR_FORMATS[format]
    sink = pa.BufferOutputStream()
    if format == "parquet":
        pq.write_table(table, sink, compression="zstd")
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    filename = f"{spec.name}-{snapshot_id}.{extension}"
    headers = {
        "X-Snapshot-Id": snapshot_id,
        "X-Total-Count": str(total),
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return Response(sink.getvalue().to_pybytes(), media_type=media_type, headers=headers)
