"""Render a mart page as JSON or CSV with exact decimal text.

Money must reach a BI tool exactly as stored ("1200.50", not 1200.5 or 1200.4999...). Pydantic
writes Decimal as a JSON string, so after its (fast, Rust) serialisation the quotes around the
values of the mart's decimal columns are removed. That is safe: inside a JSON string every `"`
is escaped, so the pattern `"<column>":"<digits>"` can only match a real key and its value, and
the values are DECIMAL(38,2) text from DuckDB (digits, optional sign and point, no exponent).

Both formats are built from rows already fetched in full, so a response never depends on a
database cursor that outlives the request.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

from fastapi import Response

from api.mart_catalog import MARTS, MartSpec
from api.schemas import MartPage

_DECIMAL_VALUES = {
    name: re.compile(
        '"('
        + "|".join(re.escape(c.name) for c in spec.columns if c.kind == "decimal")
        + ')":"(-?[0-9]+(?:\\.[0-9]+)?)"'
    )
    for name, spec in MARTS.items()
}


def _headers(page: MartPage) -> dict[str, str]:
    return {"X-Snapshot-Id": page.snapshot_id, "X-Total-Count": str(page.total)}


def page_json(spec: MartSpec, page: MartPage) -> Response:
    body = _DECIMAL_VALUES[spec.name].sub(r'"\1":\2', page.model_dump_json())
    return Response(body, media_type="application/json", headers=_headers(page))


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def page_csv(spec: MartSpec, page: MartPage) -> Response:
    """RFC 4180 CSV with a header row; the page's snapshot is in the file name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = spec.column_names
    writer.writerow(names)
    for row in page.rows:
        writer.writerow([_csv_text(getattr(row, name)) for name in names])
    filename = f"{spec.name}-{page.snapshot_id}.csv"
    headers = {**_headers(page), "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
