"""Uploads over HTTP: refusals before anything lands, and a valid file ending in a snapshot."""

from __future__ import annotations

import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fixture_files import HANDMADE
from serving import wait_until

from tests.integration.sources.vendor_files import xero_csv, xero_line

FIXTURES = HANDMADE
PROBLEM = "application/problem+json"
LIMIT = 64 * 1024
CLIENTS = b"client_id,client_name\nC1,Acme\n"


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory: pytest.TempPathFactory, start_server):
    home = tmp_path_factory.mktemp("home-uploads")
    return start_server(home, MOATMETRICS_MAX_UPLOAD_BYTES=str(LIMIT))


def _landed(server) -> list[str]:
    landing = server.home / "landing"
    return sorted(p.name for p in landing.iterdir()) if landing.exists() else []


def _bomb() -> bytes:
    """A valid-looking workbook whose sheet inflates 1000x (20 MiB of zeros in ~20 KiB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (20 * 2**20))
    return buffer.getvalue()


def _problem(response: httpx.Response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"].endswith(kind), body
    assert "Traceback" not in response.text
    return body


def test_refused_uploads_leave_nothing_behind(upload_server) -> None:
    server = upload_server
    with server.client("analyst") as http:
        for name in ("../../etc/passwd", "..\\..\\clients.csv", "reports/clients.csv", ".."):
            body = _problem(
                http.post("/api/v1/uploads", files={"file": (name, CLIENTS)}),
                400,
                "invalid-file-name",
            )
            assert "path" in body["detail"]
        body = _problem(
            http.post("/api/v1/uploads", files={"file": ("clients.csv", b"x" * (LIMIT + 1))}),
            413,
            "too-large",
        )
        assert "MiB" in body["detail"]
        body = _problem(
            http.post("/api/v1/uploads", files={"file": ("licenses.xlsx", _bomb())}),
            422,
            "unsafe-workbook",
        )
        assert "zip bomb" in body["detail"]
        _problem(
            http.post("/api/v1/uploads", files={"file": ("licenses.xlsx", b"not a zip")}),
            422,
            "unsafe-workbook",
        )
        _problem(
            http.post("/api/v1/uploads", files={"file": ("clients.exe", CLIENTS)}),
            422,
            "unsupported-file-type",
        )
        body = _problem(
            http.post("/api/v1/uploads", files={"file": ("export.csv", CLIENTS)}),
            422,
            "unknown-entity",
        )
        assert "entity" in body["detail"]
        _problem(
            http.post(
                "/api/v1/uploads",
                files={"file": ("export.csv", CLIENTS)},
                data={"entity": "passwords"},
            ),
            422,
            "unknown-entity",
        )
        _problem(
            http.post("/api/v1/uploads", files={"file": ("clients.csv", b"")}), 422, "empty-file"
        )
        _problem(http.post("/api/v1/uploads", data={"entity": "clients"}), 422, "")
    assert _landed(server) == []
    assert not (server.home.parent / "etc").exists()
    with server.client("admin") as admin:
        refused = admin.get("/api/v1/audit", params={"action": "uploads.create"}).json()
        assert refused["total"] == 12
        assert {e["outcome"] for e in refused["entries"]} == {"refused"}
        assert {e["status"] for e in refused["entries"]} == {400, 413, 422}


def test_chunked_upload_over_the_limit_is_413(upload_server) -> None:
    """Without Content-Length the gate counts the bytes as they arrive."""
    boundary = "moatmetricsboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clients.csv"'
        "\r\nContent-Type: text/csv\r\n\r\n"
    ).encode()

    def body():
        yield head
        for _ in range(8):
            yield b"y" * (16 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {
        **upload_server.headers("analyst"),
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    with httpx.Client(base_url=upload_server.url, timeout=30) as http:
        response = http.post("/api/v1/uploads", content=body(), headers=headers)
    _problem(response, 413, "too-large")
    assert [n for n in _landed(upload_server) if n.startswith(".")] == []


def test_accepted_upload_lands_under_a_safe_name(upload_server) -> None:
    with upload_server.client("analyst") as http:
        response = http.post(
            "/api/v1/uploads",
            files={"file": ("Kunden März 2024.csv", CLIENTS)},
            data={"entity": "clients"},
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert response.headers["location"] == accepted["location"]
        assert accepted["status"] == "received" and accepted["run_requested"] is False
        detail = http.get(accepted["location"]).json()
    assert detail["file_name"] == "Kunden März 2024.csv"
    assert detail["stored_name"].startswith("clients__Kunden_M")
    assert detail["stored_name"] in _landed(upload_server)
    assert detail["entity"] == "clients" and detail["uploaded_by"].startswith("test-analyst-")


def test_a_vendor_export_is_known_by_its_headers(upload_server) -> None:
    """A Xero sales export under Xero's own file name (which names no entity) is taken: its
    headers are those of the xero_invoices profile. A file whose name and headers say nothing
    is refused at once, with the nearest profiles and what each lacks."""
    xero = xero_csv(
        [
            xero_line(
                ContactName="Acme Dental", InvoiceNumber="INV-0001", InvoiceDate="31/10/2026",
                DueDate="30/11/2026", Total="100.00", Description="Managed services",
                Quantity="1", UnitAmount="100.00", LineAmount="100.00", AccountCode="200",
            )
        ]
    ).encode()  # fmt: skip
    with upload_server.client("analyst") as http:
        response = http.post("/api/v1/uploads", files={"file": ("Sales Invoices.csv", xero)})
        assert response.status_code == 202, response.text
        stored = http.get(response.json()["location"]).json()["stored_name"]
        assert stored.startswith("Sales_Invoices.") and stored in _landed(upload_server)
        almost = b"InvoiceNumber,InvoiceDate,Total\nINV-1,31/10/2026,5.00\n"
        body = _problem(
            http.post("/api/v1/uploads", files={"file": ("export.csv", almost)}),
            422,
            "unknown-entity",
        )
    assert "no source profile matches" in body["detail"] and "xero" in body["detail"]
    assert "missing headers" in body["detail"]
    assert not any(name.startswith("export.") for name in _landed(upload_server))


def _wait(predicate):  # type: ignore[no-untyped-def]
    """Until the pipeline run has done it (no deadline: the test's timeout bounds the wait)."""
    return wait_until(predicate, step=0.5)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("dbt_manifest")
def test_uploaded_files_end_in_a_new_snapshot(tmp_path: Path, start_server) -> None:
    server = start_server(tmp_path / "home", MOATMETRICS_RUN_ON_UPLOAD="1")
    with server.client("analyst") as http:
        assert http.get("/api/v1/snapshots/current").status_code == 503
        ids = []
        for path in sorted(FIXTURES.glob("*.csv")):
            response = http.post("/api/v1/uploads", files={"file": (path.name, path.read_bytes())})
            assert response.status_code == 202, response.text
            assert response.json()["run_requested"] is True
            ids.append(response.json()["id"])

        def all_processed():
            uploads = [http.get(f"/api/v1/uploads/{i}").json() for i in ids]
            return uploads if all(u["status"] != "received" for u in uploads) else None

        uploads = _wait(all_processed)
        assert {u["status"] for u in uploads} == {"accepted"}, uploads
        snapshot = _wait(lambda: http.get("/api/v1/snapshots/current").json().get("snapshot_id"))
        current = http.get("/api/v1/snapshots/current").json()
        assert current["row_counts"]["client_profitability"] > 0
        rows = http.get("/api/v1/marts/client_profitability").json()
        assert rows["snapshot_id"] == snapshot and rows["total"] > 0

        again = http.post(
            "/api/v1/uploads",
            files={"file": ("clients.csv", (FIXTURES / "clients.csv").read_bytes())},
        ).json()
        assert again["status"] == "unchanged" and again["run_requested"] is False

        bad = b"client_id,industry\nC9,Legal\n"
        rejected_id = http.post("/api/v1/uploads", files={"file": ("clients_fix.csv", bad)}).json()[
            "id"
        ]
        rejected = _wait(
            lambda: (
                (u := http.get(f"/api/v1/uploads/{rejected_id}").json())["status"] != "received"
                and u
            )
        )
    assert rejected["status"] == "rejected"
    assert rejected["problems_total"] >= 1
    assert "client_name" in rejected["problems"][0]["rule"]
    with server.client("viewer") as viewer:  # the latest judged upload per entity
        quality = {q["entity"]: q for q in viewer.get("/api/v1/quality").json()["entities"]}
    assert set(quality) == {"clients", "staff", "time_entries", "invoices", "licenses", "expenses"}
    assert (quality["clients"]["status"], quality["clients"]["quality_score"]) == ("rejected", 0.0)
    assert quality["invoices"]["status"] == "accepted"
    assert 0.9 < quality["invoices"]["quality_score"] <= 1.0
    with server.client("admin") as admin:
        assert admin.get("/api/v1/snapshots/current").json()["snapshot_id"] == snapshot
        assert admin.get("/api/v1/audit/verify").json()["valid"] is True
        actions = [
            e["action"]
            for e in admin.get("/api/v1/audit", params={"actor": "pipeline", "limit": 1000}).json()[
                "entries"
            ]
        ]
    assert actions.count("pipeline.ingest") == 7
    assert actions.count("pipeline.publish") >= 1
    assert "pipeline.check" in actions

    # A Xero sales export to a contact no alias or client name resolves: read by its profile,
    # loaded, and held out of the marts; the upload says so after the next publish, and the
    # review queue asks who the client is, suggesting the closest name.
    xero = xero_csv(
        [
            xero_line(
                ContactName="Acme Dental Surgery", InvoiceNumber="INV-9001",
                InvoiceDate="31/01/2025", DueDate="28/02/2025", Total="120.00",
                Description="Managed services", Quantity="1", UnitAmount="120.00",
                LineAmount="120.00", AccountCode="200",
            ),
            xero_line(
                ContactName="Acme Dental Clinic", InvoiceNumber="INV-9002",
                InvoiceDate="31/01/2025", DueDate="28/02/2025", Total="80.00",
                Description="Managed services", Quantity="1", UnitAmount="80.00",
                LineAmount="80.00", AccountCode="200",
            ),
        ]
    ).encode()  # fmt: skip
    with server.client("analyst") as http:
        xero_id = http.post("/api/v1/uploads", files={"file": ("Sales Invoices.csv", xero)}).json()[
            "id"
        ]
        held = _wait(
            lambda: (
                (u := http.get(f"/api/v1/uploads/{xero_id}").json())["rows_held"] is not None and u
            )
        )
        first = http.get(f"/api/v1/uploads/{ids[0]}").json()
    assert held["status"] == "accepted" and held["profile"].startswith("xero_invoices v")
    assert (held["rows_loaded"], held["rows_skipped"], held["rows_held"]) == (2, 0, 2)
    assert first["profile"] == "canonical" and first["rows_held"] == 0

    def acme_january_revenue(http: httpx.Client) -> str:
        page = http.get(
            "/api/v1/marts/client_profitability",
            params={"client_id": "C001", "month_from": "2025-01", "month_to": "2025-01"},
        ).json()
        return page["rows"][0]["revenue"]

    with server.client("analyst") as http:
        revenue_held = acme_january_revenue(http)
        queue = http.get("/api/v1/reviews", params={"kind": "client_identity"}).json()
        assert queue.get("total") == 2, queue
        by_key = {i["subject"]: i["id"] for i in queue["items"]}
        item = http.get(f"/api/v1/reviews/{by_key['Acme Dental Surgery']}").json()
        clinic = http.get(f"/api/v1/reviews/{by_key['Acme Dental Clinic']}").json()
        assert item["status"] == "open" and item["subject"] == "Acme Dental Surgery"
        assert item["row"]["suggested_client_id"] == "C001" and item["row"]["held_rows"] == 1
        assert "Acme Dental (C001)" in item["explanation"]
        with server.client("viewer") as viewer:  # a viewer reads marts, decides nothing
            refused = viewer.post(
                f"/api/v1/reviews/{item['id']}/client", json={"client_id": "C001"}
            )
        assert refused.status_code == 403
        console = httpx.Client(base_url=server.url, timeout=60.0)  # the console's form too
        form = console.get("/console/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        signed_in = console.post(
            "/console/sign-in", data={"csrf": csrf.group(1), "key": server.keys["analyst"]}
        )
        assert signed_in.status_code == 303, signed_in.text
        page = console.get(f"/console/reviews/{item['id']}").text
        assert "Unknown client" in page and "Which client is it?" in page
        assert 'name="client_id" type="text" required maxlength="64" value="C001"' in page
        # The queue confirms a suggestion in one click: the clinic is Acme Dental.
        listed = console.get("/console/reviews", params={"kind": "client_identity"}).text
        assert f'form="confirm-{clinic["id"]}"' in listed and "Confirm: Acme Dental" in listed
        one_click = re.search(
            rf'<form method="post" action="/console/reviews/{clinic["id"]}/client"'
            rf' id="confirm-{clinic["id"]}" hidden>(.*?)</form>',
            listed,
            re.S,
        )
        assert one_click
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', one_click.group(1)))
        assert fields["client_id"] == "C001" and fields["back_to"] == "queue"
        assert fields["content_hash"] == clinic["content_hash"]
        clicked = console.post(f"/console/reviews/{clinic['id']}/client", data=fields)
        assert clicked.status_code == 303, clicked.text
        assert clicked.headers["location"].startswith("/console/reviews?kind=client_identity")
        assert http.get(f"/api/v1/reviews/{clinic['id']}").json()["status"] == "approved"
        confirmed = http.post(
            f"/api/v1/reviews/{item['id']}/client",
            json={"client_id": "C001", "content_hash": item["content_hash"]},
        )
        assert confirmed.status_code == 202, confirmed.text
        alias_upload = confirmed.json()["upload_id"]
        assert confirmed.json()["item"]["status"] == "approved"
        again = http.post(f"/api/v1/reviews/{item['id']}/client", json={"client_id": "C001"})
        assert again.status_code == 422  # answered: not an open identity item any more
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        late = console.post(
            f"/console/reviews/{item['id']}/client",
            data={"csrf": csrf.group(1), "client_id": "C001"},
        )
        console.close()
        assert late.status_code == 422 and "not an open client-identity item" in late.text
    with server.client("analyst") as http:
        _wait(
            lambda: (
                http.get(f"/api/v1/uploads/{xero_id}").json()["rows_held"] == 0
                and http.get(f"/api/v1/uploads/{alias_upload}").json()["status"] == "accepted"
            )
        )
        revenue_in = acme_january_revenue(http)
    assert Decimal(revenue_in) - Decimal(revenue_held) == Decimal("200.00")
    with server.client("admin") as admin:
        assert admin.get("/api/v1/audit/verify").json()["valid"] is True
        decided = admin.get(
            "/api/v1/audit", params={"action": "reviews.decide", "limit": 10}
        ).json()["entries"]
    assert any("C001" in (e["details"].get("comment") or "") for e in decided), decided
