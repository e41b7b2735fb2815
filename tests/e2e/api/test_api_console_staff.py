"""The console's staff page on both back ends: its mart reads run in DuckDB and PostgreSQL mode.

The published generation-1 warehouse (tests/e2e/api/conftest.py) has Alice over capacity in
February 2024, Bob under his billable target in January and S9 without a staff record.
"""

from __future__ import annotations

import html
import re

import httpx


def _signed_in(server) -> httpx.Client:
    http = httpx.Client(base_url=server.url, timeout=30.0)
    form = http.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    done = http.post("/console/sign-in", data={"csrf": token, "key": server.keys["viewer"]})
    assert done.status_code == 303, done.text
    return http


def test_staff_page_reads_the_mart_in_either_backend(published, backend) -> None:
    server, _ = published
    http = _signed_in(server)
    try:
        latest = http.get("/console/staff")
        january = http.get("/console/staff", params={"month": "2024-01", "sort": "staff_name"})
        alice = http.get("/console/staff/S1")
        nobody = http.get("/console/staff/S404")
    finally:
        http.close()
    assert latest.status_code == 200, latest.text[:300]
    page = html.unescape(latest.text)
    assert "Alice is at 106 % of capacity in February 2024: 10 h over." in page
    assert "Billable 88 % against a target of 75 %: 20 h above target." in page
    assert "S9 has no contract in the staff file, so capacity in February 2024 is unknown" in page
    assert re.findall(r'href="/console/staff/(\w+)"', latest.text) == ["S1", "S9"]
    text = html.unescape(january.text)
    assert "Bob is at 54 % of capacity in January 2024: 84 h spare." in text
    assert "Billable 43 % against a target of 75 %: 58 h short of target." in text
    assert re.findall(r'href="/console/staff/(\w+)"', january.text) == ["S1", "S2"]
    assert alice.status_code == 200 and alice.text.count('<svg class="chart"') == 2
    assert nobody.status_code == 404
