"""What-if on the demo data over real HTTP: the API answers the acceptance sums to the cent
against the license mart it serves, and the console's what-if page shows, saves and reopens a
scenario (the browser walk checks its accessibility: test_console_browser.py)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from console_home import Console


def _last_complete_month(api) -> str:
    months = api.get("/api/v1/marts/month_completeness").json()["rows"]
    return max(m["month"] for m in months if m["is_complete"])


def test_reclaiming_and_billing_every_seat_saves_the_license_marts_waste_and_leakage(
    console: Console,
) -> None:
    with console.api("viewer") as api:
        month = _last_complete_month(api)[:7]
        licenses = api.get(
            "/api/v1/marts/license_utilization",
            params={"month_from": month, "month_to": month, "limit": 10_000},
        ).json(parse_float=Decimal)["rows"]
        answer = api.post(
            "/api/v1/scenarios/evaluate",
            json={"changes": [{"kind": "reclaim_unused_seats"}, {"kind": "bill_unbilled_seats"}]},
        )
        zero = api.post(
            "/api/v1/scenarios/evaluate",
            json={"changes": [{"kind": "price", "client_id": licenses[0]["client_id"],
                               "percent": 0}]},
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    result = answer.json(parse_float=Decimal)
    assert result["month"][:7] == month
    totals = {m["name"]: m for m in result["portfolio"]}
    waste = sum(Decimal(str(r["monthly_waste"] or 0)) for r in licenses)
    leakage = sum(Decimal(str(r["monthly_leakage"] or 0)) for r in licenses)
    assert waste > 1000 and leakage > 0
    assert Decimal(str(totals["monthly_waste"]["today"])) == waste
    assert Decimal(str(totals["monthly_waste"]["change"])) == -waste
    assert Decimal(str(totals["monthly_leakage"]["today"])) == leakage
    assert Decimal(str(totals["monthly_leakage"]["change"])) == -leakage
    assert Decimal(str(totals["revenue"]["change"])) == leakage
    assert Decimal(str(totals["total_cost"]["change"])) == -waste
    assert zero.status_code == 200
    unchanged = zero.json()
    assert unchanged["clients"] == [] and all(m["change"] in (0, None)
                                             for m in unchanged["portfolio"])  # fmt: skip


def test_the_what_if_page_shows_saves_and_reopens_a_scenario(console: Console) -> None:
    query = {"reclaim": "on", "bill": "on"}
    with console.signed_in("viewer") as viewer:
        page = viewer.get("/console/what-if", params=query)
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert "The scenario in" in text and "License waste" in text
        assert 'action="/console/what-if" class="save-scenario"' not in text  # viewers: no save
        bad = viewer.get("/console/what-if", params={"price_client": "C00001"})
        assert bad.status_code == 422 and "percent" in html.unescape(bad.text)
    with console.signed_in("analyst") as analyst:
        form = analyst.get("/console/what-if", params=query).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        saved = analyst.post(
            "/console/what-if", data={**query, "csrf": csrf, "name": "All seats in order"}
        )
        assert saved.status_code == 303, saved.text
        location = saved.headers["location"]
        assert location.startswith("/console/what-if?scenario=")
    with console.signed_in("viewer") as viewer:
        reopened = html.unescape(viewer.get(location).text)
        listed = html.unescape(viewer.get("/console/what-if").text)
    assert "Saved scenario <strong>All seats in order</strong>" in reopened
    assert "The scenario in" in reopened
    assert f'href="{location}">All seats in order</a>' in listed
