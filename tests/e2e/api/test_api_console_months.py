"""The console's month pages on the suite's published snapshot, in the back end under test.

With `MOATMETRICS_TEST_BACKEND=postgres` the snapshot is a `snapshot_<id>` schema read through
psycopg (`%s` markers), so these pages prove the overview, client list and client page SQL
runs there as on a snapshot file. The snapshot (tests/e2e/api/conftest.py) has January to
March 2024 and no month_completeness mart (a snapshot of an older release): every month
counts as complete, so the pages default to March.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="module")
def console(published) -> Iterator[httpx.Client]:
    server, _ = published
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        form = http.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        done = http.post(
            "/console/sign-in", data={"csrf": token.group(1), "key": server.keys["viewer"]}
        )
        assert done.status_code == 303, done.text
        yield http


def _count(html: str, title: str) -> int:
    match = re.search(rf">{title} \((\d+)\)</h2>", html)
    assert match, title
    return int(match.group(1))


def test_overview_defaults_to_the_newest_month_and_selects(console: httpx.Client) -> None:
    html = console.get("/console").text
    assert '<h2 id="kpi-h">Mar 2024</h2>' in html
    assert '<option value="2024-03" selected>March 2024</option>' in html
    assert "partial" not in html
    assert "vs Feb 2024:" in html
    # Confidence 0.5 and 0.6 are below the 0.7 threshold: both March clients lack data.
    lists = [_count(html, t) for t in ("Losing money", "Probably missing data", "Healthy")]
    assert lists == [0, 2, 0]
    assert '<table class="heatmap">' in html
    february = console.get("/console?month=2024-02").text
    assert '<h2 id="kpi-h">Feb 2024</h2>' in february
    # C3 has no revenue but 8.5 hours in February: named as missing invoices.
    assert "no invoices this month although 7.5 hours were logged" in february
    # Recommendation codes in words with their money (the fake marts say "ok" throughout).
    assert "Keep as headroom: 3 unused seats, $36/month" in february
    refused = console.get("/console?month=2024-1")
    assert refused.status_code == 422 and "write it as YYYY-MM" in refused.text


def test_client_list_sorts_and_searches(console: httpx.Client) -> None:
    def names(path: str) -> list[str]:
        page = console.get(path)
        assert page.status_code == 200, page.text
        row = r'<th scope="row"><a href="/console/clients/[^"]+">([^<]+)</a>'
        return re.findall(row, page.text)

    assert names("/console/clients") == ["Acme", "Globex"]
    assert names("/console/clients?sort=-revenue") == ["Globex", "Acme"]
    assert names("/console/clients?sort=confidence") == ["Acme", "Globex"]
    assert names("/console/clients?sort=-confidence") == ["Globex", "Acme"]
    assert names("/console/clients?q=GLOB") == ["Globex"]
    assert names("/console/clients?month=2024-02&sort=-name") == ["Initech", "Globex", "Acme"]
    assert console.get("/console/clients?sort=drop table").status_code == 422


def test_client_page_shows_months_up_to_the_chosen_one(console: httpx.Client) -> None:
    march = console.get("/console/clients/C1").text
    assert '<th scope="row">Mar 2024</th>' in march
    february = console.get("/console/clients/C1?month=2024-02")
    assert february.status_code == 200
    assert '<th scope="row">Mar 2024</th>' not in february.text
    assert '<th scope="row">Feb 2024</th>' in february.text
