"""A month still arriving: ten October time entries on top of the demo data (through
September 2026), run through the real pipeline, served by a real API process.

Before issue 19 this turned the overview into "Oct 2026: revenue $0, utilisation 1.0 %",
dropped the clients without October rows, raised churn risk and added review items. Now
October is partial (`marts.month_completeness`), the console shows September with a note,
churn risk and the review queue are what they were on the complete data, and `?month=` still
opens October on purpose.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pandas as pd
import pytest
from built_homes import BuiltHome, copy_home
from serving import served_api
from sqlalchemy import func, select

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import create_key
from moatmetrics.appdb.models import ReviewItem
from moatmetrics.settings import Settings

pytestmark = pytest.mark.slow

THRESHOLD = 0.7  # the default review threshold (the built homes run with it)


@dataclass(frozen=True)
class PartialHome:
    before: BuiltHome  # the demo home as built (complete through September)
    settings: Settings  # the copy after the October upload
    snapshot: Path
    review_items_before: int
    review_items_after: int


def _review_items(settings: Settings) -> int:
    with session_scope(settings) as session:
        return int(session.execute(select(func.count()).select_from(ReviewItem)).scalar_one())


def _october_entries(files: Path, target: Path, count: int = 10) -> None:
    """`count` time entries dated in October 2026, copied from the demo's last ones."""
    with open(files / "time_entries.csv", newline="") as source:
        rows = list(csv.DictReader(source))
    with open(target, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rows[-count:]):
            writer.writerow(
                {**row, "entry_id": f"TE9{i:07d}", "work_date": f"2026-10-0{i % 9 + 1}"}
            )


@pytest.fixture(scope="module")
def partial(demo_home: BuiltHome, tmp_path_factory: pytest.TempPathFactory) -> PartialHome:
    from orchestration.pipeline import run_pipeline

    copy = copy_home(demo_home, tmp_path_factory.mktemp("partial-month") / "home")
    before = _review_items(copy.settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOATMETRICS_HOME", str(copy.settings.home))
        patch.delenv("MOATMETRICS_REVIEW_THRESHOLD", raising=False)
        _october_entries(copy.files, copy.settings.landing_dir / "time_entries_october.csv")
        outcome = run_pipeline(copy.settings)
    assert outcome.success and outcome.published, outcome.summary()
    assert outcome.published.path is not None
    return PartialHome(
        demo_home, copy.settings, outcome.published.path, before, _review_items(copy.settings)
    )


def read(snapshot: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute(sql).df()


def test_october_is_partial_and_every_earlier_month_complete(partial: PartialHome) -> None:
    months = read(partial.snapshot, "SELECT * FROM marts.month_completeness ORDER BY month")
    october = months.iloc[-1]
    assert str(october["month"])[:7] == "2026-10"
    assert not october["is_complete"]
    assert october["time_entries"] == 10 and october["invoice_lines"] == 0
    assert october["reported_sources"] == "time entries"
    assert october["short_sources"] == "time entries"
    assert "invoices" in october["missing_sources"]
    assert "license snapshots" in october["missing_sources"]
    assert months.iloc[:-1]["is_complete"].all()  # the demo's 24 months are complete
    # Before the upload, September was the newest month and complete.
    before = read(partial.before.snapshot, "SELECT * FROM marts.month_completeness")
    assert before["is_complete"].all() and str(before["month"].max())[:7] == "2026-09"


def test_churn_risk_ignores_the_month_in_progress(partial: PartialHome) -> None:
    sql = "SELECT client_id, month, churn_risk, risk_rank FROM marts.client_risk ORDER BY client_id"
    before, after = read(partial.before.snapshot, sql), read(partial.snapshot, sql)
    assert len(before) > 20  # the demo has scores to compare
    pd.testing.assert_frame_equal(after, before)


def test_review_flags_ignore_the_month_in_progress(partial: PartialHome) -> None:
    for mart in ("client_profitability", "staff_utilization", "license_utilization"):
        sql = (
            f"SELECT month, count(*) FILTER (WHERE needs_review) AS flagged, "
            f"count(*) FILTER (WHERE confidence < {THRESHOLD}) AS low "
            f"FROM marts.{mart} GROUP BY month ORDER BY month"
        )
        before, after = read(partial.before.snapshot, sql), read(partial.snapshot, sql)
        october = after[after["month"].astype(str).str.startswith("2026-10")]
        if mart != "license_utilization":  # no license snapshot arrived for October
            assert len(october) == 1 and october["low"].iloc[0] > 0, mart  # low, not flagged
        assert october["flagged"].sum() == 0, mart
        complete = after[~after["month"].astype(str).str.startswith("2026-10")]
        pd.testing.assert_frame_equal(complete.reset_index(drop=True), before, check_dtype=False)
    assert partial.review_items_after == partial.review_items_before


# ---------------------------------------------------------------- the console over HTTP


@pytest.fixture(scope="module")
def console(
    partial: PartialHome, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A real API process on the home, and a signed-in viewer's console session."""
    with session_scope(partial.settings, write=True) as session:
        key = create_key(session, Actor("tests"), "partial-month-viewer", "viewer")[1]
    log = tmp_path_factory.mktemp("partial-log") / "server.log"
    with (
        served_api(partial.settings.home, log) as url,
        httpx.Client(base_url=url, timeout=60.0) as http,
    ):
        form = http.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        done = http.post("/console/sign-in", data={"csrf": token.group(1), "key": key})
        assert done.status_code == 303, done.text
        yield http


def heading_count(html: str, title: str) -> int:
    match = re.search(rf">{title} \((\d+)\)</h2>", html)
    assert match, title
    return int(match.group(1))


def test_overview_shows_the_last_complete_month_with_a_note(console: httpx.Client) -> None:
    html = console.get("/console").text
    assert '<h2 id="kpi-h">Sep 2026</h2>' in html
    assert "October 2026 is partial: only time entries so far" in html
    assert "Showing September 2026." in html
    assert '<option value="2026-10">October 2026 (partial)</option>' in html
    assert '<option value="2026-09" selected>September 2026</option>' in html
    # Changes against the month before and the same month a year before.
    assert "vs Aug 2026:" in html and "vs Sep 2025:" in html
    # Recommendations in words with their money, never the raw codes.
    savings = html.split('id="savings-h"', 1)[1].split("</section>", 1)[0]
    assert "/month" in savings
    assert not re.search(r"<td>(ok|reclaim|bill_client|true_up)</td>", savings)


def test_month_parameter_selects_and_rejects(console: httpx.Client) -> None:
    october = console.get("/console?month=2026-10")
    assert october.status_code == 200
    assert '<h2 id="kpi-h">Oct 2026</h2>' in october.text
    assert "Showing" not in october.text  # the partial month itself is shown, on purpose
    for bad, message in (("2026-13", "is not a month"), ("oct", "is not a month"),
                         ("2019-01", "no data for 2019-01")):  # fmt: skip
        refused = console.get(f"/console?month={bad}")
        assert refused.status_code == 422, bad
        assert message in refused.text and "text/html" in refused.headers["content-type"]


def test_three_client_lists_partition_the_month(
    console: httpx.Client, partial: PartialHome
) -> None:
    rows = read(
        partial.snapshot,
        "SELECT client_id, revenue, labor_hours, gross_profit, confidence "
        "FROM marts.client_profitability WHERE month = DATE '2026-09-01'",
    )
    missing = (rows["confidence"] < THRESHOLD) | (
        (rows["revenue"] == 0) & (rows["labor_hours"] > 0)
    )
    losing = ~missing & (rows["gross_profit"] < 0)
    healthy = ~missing & ~losing
    html = console.get("/console").text
    counts = {
        "losing": heading_count(html, "Losing money"),
        "missing": heading_count(html, "Probably missing data"),
        "healthy": heading_count(html, "Healthy"),
    }
    assert counts == {"losing": losing.sum(), "missing": missing.sum(), "healthy": healthy.sum()}
    assert sum(counts.values()) == len(rows)
    assert counts["healthy"] > 0 and counts["missing"] + counts["losing"] > 0
    # October (partial) puts the clients with hours but no invoices under missing data.
    october = console.get("/console?month=2026-10").text
    assert "no invoices this month although" in october
    assert heading_count(october, "Healthy") == 0


def test_heatmap_shows_margin_by_month_in_text(console: httpx.Client) -> None:
    html = console.get("/console").text
    heat = html.split('<table class="heatmap">', 1)[1].split("</table>", 1)[0]
    assert '<th scope="col">Oct 2025</th>' in heat and '<th scope="col">Sep 2026</th>' in heat
    assert "Oct 2026" not in heat  # months after the one shown are not in it
    assert re.search(r'<td class="heat-(loss|thin|fair|good)">-?\d+ %\*?</td>', heat)


def test_client_list_sorts_and_searches(console: httpx.Client, partial: PartialHome) -> None:
    rows = read(
        partial.snapshot,
        "SELECT client_id, client_name, revenue FROM marts.client_profitability "
        "WHERE month = DATE '2026-09-01' ORDER BY revenue DESC, client_id",
    )
    html = console.get("/console/clients?sort=-revenue").text
    shown = re.findall(r'<a href="/console/clients/([^"?]+)\?month=2026-09">', html)
    assert shown == list(rows["client_id"])
    assert 'aria-sort="descending"' in html and "Clients, Sep 2026 (" in html
    by_name = console.get("/console/clients?sort=name").text
    names = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', by_name)
    assert len(names) == len(rows) and names == sorted(names)
    name = rows["client_name"].iloc[0]
    found = console.get(f"/console/clients?q={name[2:8].upper()}").text
    hits = re.findall(r'<a href="/console/clients/([^"?]+)\?month=', found)
    assert rows["client_id"].iloc[0] in hits and len(hits) < len(rows)
    assert console.get("/console/clients?sort=colour").status_code == 422


def test_client_page_follows_the_month(console: httpx.Client, partial: PartialHome) -> None:
    client_id = read(
        partial.snapshot,
        "SELECT client_id FROM marts.client_profitability WHERE month = DATE '2026-10-01' LIMIT 1",
    )["client_id"].iloc[0]
    default = console.get(f"/console/clients/{client_id}").text
    assert "October 2026 is partial" in default
    assert "up to Sep 2026" in default and '<th scope="row">Oct 2026</th>' not in default
    chosen = console.get(f"/console/clients/{client_id}?month=2026-10").text
    assert '<th scope="row">Oct 2026</th>' in chosen


def test_reports_end_on_the_last_complete_month(
    console: httpx.Client, partial: PartialHome
) -> None:
    """Without month_to a report stops at the last complete month, not half of October."""
    with session_scope(partial.settings, write=True) as session:
        key = create_key(session, Actor("tests"), "partial-month-reports", "viewer")[1]
    bearer = {"Authorization": f"Bearer {key}"}
    default = console.get(
        "/api/v1/reports/client-profitability", params={"format": "xlsx"}, headers=bearer
    )
    assert default.status_code == 200, default.text
    explicit = console.get(
        "/api/v1/reports/client-profitability",
        params={"format": "xlsx", "month_to": "2026-09"},
        headers=bearer,
    )
    cells, asked = _xlsx_cells(default.content), _xlsx_cells(explicit.content)
    assert not [c for c in cells if c.startswith("2026-10")]
    assert [c for c in cells if c.startswith("2026-09")]
    assert cells == asked  # the same report as asking for September


def _xlsx_cells(content: bytes) -> list[str]:
    """Every cell's text, without the report's own making time (the `Generated (UTC)` row)."""
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True)
    return [
        str(cell)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        if not row or row[0] != "Generated (UTC)"
        for cell in row
        if cell is not None
    ]
