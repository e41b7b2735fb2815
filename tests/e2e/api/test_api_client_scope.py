"""Client-scoped access: a key limited to one client sees that client and nothing of another.

Every route of the API and the console, from the app's own route table (so a route added later
is walked too), is called with an analyst key scoped to C2 (Globex), as a bearer key and through
a console session; no response body (JSON, CSV, HTML, Parquet, Arrow, PDF text, XLSX cells)
may name another client (C1 Acme, C3 Initech) or a staff member. Then the positive side: C2's
own rows are served, identical to what an unscoped key gets for C2, and totals are theirs.
Runs against DuckDB snapshots and, with MOATMETRICS_TEST_BACKEND=postgres, PostgreSQL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader
from test_api_roles import RECIPES

from api.main import create_app
from api.security import route_table
from moatmetrics.appdb import audit, keys, reviews
from moatmetrics.appdb.db import session_scope

SCOPE = "C2"
# Ids and names of the other clients (tests/e2e/api/conftest.py CLIENTS) and of the staff.
OTHERS = re.compile(r"\bC1\b|\bC3\b|Acme|Initech|Alice|Bob|\bS1\b|\bS2\b")
OUTSIDE = "C1"  # an existing client outside the scope...
UNKNOWN = "C9"  # ...must be answered exactly like one that does not exist
PATH_VALUES = {
    "name": ["no_such_mart"],
    "client_id": [SCOPE, OUTSIDE, UNKNOWN],
    "upload_id": ["$upload"],
    "item_id": ["$item"],
    "key_id": ["$victim"],
    "override_id": ["1"],  # corrections: refused to a scoped key before any lookup
    "scenario_id": ["1"],  # scenarios span the portfolio: refused to a scoped key
    "staff_id": ["S1"],  # the staff pages: refused to a scoped key
    "entity": ["client_aliases"],  # the mappings page's forms: refused to a scoped key
}
# Query variants per route family: formats, and filters naming a client outside the scope.
MART_QUERIES = [{}, {"client_id": OUTSIDE}, {"client_id": UNKNOWN}]
MART_QUERIES += [{"format": f} for f in ("csv", "parquet", "arrow")]
REPORT_QUERIES = [
    {},
    {"format": "xlsx"},
    {"client_id": OUTSIDE},
    {"client_id": UNKNOWN},
    {"audience": "client", "client_id": SCOPE},
]
CONSOLE_REPORT_QUERIES = [
    {"report": report, "format": fmt, **extra}
    for report in ("client-profitability", "license-savings")
    for fmt in ("pdf", "xlsx")
    for extra in ({}, {"client_id": OUTSIDE})
]


def body_text(response: httpx.Response) -> str:
    """Everything a person could read in the body, whatever its format."""
    kind = response.headers.get("content-type", "")
    content = response.content
    if kind.startswith("application/pdf"):
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    if "spreadsheetml" in kind:
        book = openpyxl.load_workbook(io.BytesIO(content))
        return "\n".join(
            str(cell.value)
            for sheet in book.worksheets
            for row in sheet.iter_rows()
            for cell in row
            if cell.value is not None
        )
    if "parquet" in kind:
        return str(pq.read_table(io.BytesIO(content)).to_pylist())
    if "arrow" in kind:
        return str(pa.ipc.open_stream(content).read_all().to_pylist())
    return response.text


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory, start_server, publish_generation, backend):
    """A published home, an analyst key scoped to C2, a review item of C1 and an upload."""
    home = tmp_path_factory.mktemp("home-scoped")
    publish_generation(home, 1)
    server = start_server(home)
    settings = backend.settings(home)
    with session_scope(settings, write=True) as session:
        actor = audit.Actor("tests")
        server.keys["scoped"] = keys.create_key(session, actor, "globex-qbr", "analyst", [SCOPE])[1]
        victim = keys.create_key(session, actor, "scope-victim", "viewer")[0]
    reviews.sync_review_items(
        "client_profitability",
        [{"row_key": "C1|2024-01-01", "row": {"client_id": "C1", "client_name": "Acme"}}],
        settings,
    )
    with server.client("admin") as http:
        upload = http.post("/api/v1/uploads", files=RECIPES[("POST", "/api/v1/uploads")].files())
        assert upload.status_code == 202, upload.text
    with session_scope(settings) as session:
        item_id = reviews.list_items(session, reviews.ReviewFilter(), 1, 0)[1][0].id
    values = {"$upload": str(upload.json()["id"]), "$item": str(item_id), "$victim": str(victim.id)}
    return server, values


@pytest.fixture()
def console(scoped) -> Iterator[httpx.Client]:
    """A console session of the scoped key, signed in through the form."""
    server, _ = scoped
    with httpx.Client(base_url=server.url, timeout=60.0) as http:
        form = http.get("/console/sign-in")
        token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = http.post("/console/sign-in", data={"csrf": token, "key": server.keys["scoped"]})
        assert done.status_code == 303, done.text
        yield http


def _urls(path: str, values: dict[str, str]) -> list[str]:
    names = re.findall(r"{(\w+)}", path)
    missing = [name for name in names if name not in PATH_VALUES]
    assert not missing, f"add values for {missing} of {path} to PATH_VALUES"
    urls = [path]
    for name in names:
        urls = [
            url.replace("{" + name + "}", values.get(value, value))
            for url in urls
            for value in PATH_VALUES[name]
        ]
    return urls


def _queries(path: str) -> list[dict[str, str]]:
    if path.startswith("/api/v1/marts/"):
        return MART_QUERIES
    if path.startswith("/api/v1/reports/"):
        return REPORT_QUERIES
    if path == "/console/reports/download":
        return CONSOLE_REPORT_QUERIES
    return [{}]


def _call(http: httpx.Client, method: str, path: str, url: str, query: dict) -> httpx.Response:
    recipe = RECIPES.get((method, path))
    if method == "GET":
        return http.get(url, params=query)
    if recipe is not None and (recipe.json or recipe.files):
        return http.request(
            method,
            url,
            json=recipe.json() if recipe.json else None,
            files=recipe.files() if recipe.files else None,
        )
    return http.request(method, url, data={"csrf": "none", "reason": "scope walk"})


def _named_client(url: str, query: dict[str, str]) -> str | None:
    named = [c for c in (OUTSIDE, UNKNOWN) if c in (query.get("client_id"), url.rsplit("/")[-1])]
    return named[0] if named else None


def test_every_route_shows_a_scoped_key_only_its_clients(scoped, console, backend) -> None:
    server, values = scoped
    table = route_table(create_app(backend.settings(server.home)))
    bearer = server.client("scoped")
    leaks, served, calls = [], set(), 0
    answers: dict[tuple[str, str, str], tuple[int, str]] = {}
    with bearer:
        for entry in table:
            if entry.public:
                continue
            http = console if entry.path.startswith("/console") else bearer
            for method in sorted(entry.methods - {"HEAD"}):
                for url in _urls(entry.path, values):
                    for query in _queries(entry.path):
                        response = _call(http, method, entry.path, url, query)
                        calls += 1
                        text = body_text(response) if response.status_code < 300 else response.text
                        named = _named_client(url, query)
                        if named:  # the caller's own words may come back: compare like for like
                            text = text.replace(named, "CX")
                            key = (method, url.replace(named, "CX"), str(sorted(query.items())))
                            answers.setdefault(key, (response.status_code, text))
                            if answers[key] != (response.status_code, text):
                                leaks.append((method, url, query, "differs from an unknown id"))
                        found = OTHERS.findall(text)
                        if found:
                            leaks.append((method, url, query, response.status_code, found[:3]))
                        if response.status_code == 200:
                            served.add(entry.path)
    assert not leaks, "\n".join(map(str, leaks))
    assert calls > 60
    # The console's navigation offers a scoped person only what it may open.
    page = console.get("/console/clients").text
    assert 'href="/console/reports"' in page and 'href="/console/uploads"' not in page
    # The scoped routes answer with data; the portfolio-wide ones refused (403) above.
    assert {
        "/api/v1/marts/client_profitability",
        "/api/v1/marts/license_utilization",
        "/api/v1/reports/client-profitability",
        "/api/v1/reports/license-savings",
        "/api/v1/me",
        "/console/clients",
        "/console/clients/{client_id}",
        "/console/reports/download",
    } <= served


def _rows(http: httpx.Client, mart: str, **params: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/marts/{mart}", params={**params, "limit": "10000"})
    assert response.status_code == 200, response.text
    return response.json(parse_float=Decimal)


def test_a_scoped_key_gets_its_clients_rows_and_their_totals(scoped) -> None:
    server, _ = scoped
    with server.client("scoped") as mine, server.client("admin") as admin:
        for mart in ("client_profitability", "license_utilization"):
            own = _rows(mine, mart)
            expected = _rows(admin, mart, client_id=SCOPE)
            assert own["rows"] == expected["rows"] and own["total"] == expected["total"] > 0
            assert {row["client_id"] for row in own["rows"]} == {SCOPE}
            everyone = _rows(admin, mart)
            assert everyone["total"] > own["total"]  # the others exist, and are not served
        rows = _rows(mine, "client_profitability")["rows"]
        revenue = sum(Decimal(str(row["revenue"])) for row in rows)
        report = mine.get("/api/v1/reports/client-profitability", params={"format": "pdf"})
        assert report.status_code == 200, report.text
        lines = [line.strip() for line in body_text(report).splitlines()]
        at = lines.index("Period total")
        assert lines[at + 1] == f"{revenue.quantize(Decimal('0.01')):,}"  # C2's rows only
        assert "Globex (C2)" in lines
        me = mine.get("/api/v1/me").json()
        assert me["clients"] == [SCOPE]
        refused = mine.get("/api/v1/marts/staff_utilization")
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("out-of-client-scope")


def test_a_scoped_key_is_never_admin_and_its_scope_is_audited(scoped) -> None:
    server, _ = scoped
    with server.client("admin") as admin:
        refused = admin.post(
            "/api/v1/keys", json={"name": "scoped-admin", "role": "admin", "clients": ["C2"]}
        )
        assert refused.status_code == 422, refused.text
        assert "cannot be admin" in refused.json()["detail"]
        made = admin.post(
            "/api/v1/keys", json={"name": "acme-bi", "role": "viewer", "clients": ["C1", "C1 "]}
        )
        assert made.status_code == 201, made.text
        assert made.json()["clients"] == ["C1"]
        entries = admin.get("/api/v1/audit", params={"action": "keys.create", "limit": 500})
        assert entries.status_code == 200, entries.text
        created = [e for e in entries.json()["entries"] if e["details"].get("name") == "acme-bi"]
        assert [e["details"]["clients"] for e in created] == [["C1"]]
