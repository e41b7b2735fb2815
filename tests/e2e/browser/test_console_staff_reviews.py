"""The staff page and the review queue on the demo home, over HTTP (no browser).

The review queue keeps doubtful data apart from unusual months (by the rule of
moatmetrics/trust/review_reasons.py, checked here on each item's stored factors), orders by the
money at stake, and a bulk decision writes one decision and one audit entry per item. The
staff page lists, sorts, searches and flags staff exactly as the staff_utilization mart says.
"""

from __future__ import annotations

import html
import math
import re
from datetime import date
from decimal import Decimal

from console_home import Console

from moatmetrics.trust.tables import FACTOR_WEIGHTS

THRESHOLD = 0.7  # the demo home is built with the default review threshold


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _queue_ids(page: str) -> list[int]:
    """Item ids in the order of the queue's table."""
    return [int(i) for i in re.findall(r'<th scope="row"><a href="/console/reviews/(\d+)">', page)]


def _all_items(console: Console, **params: str) -> list[dict]:
    with console.api("analyst") as api:
        body = api.get("/api/v1/reviews", params={"limit": 1000, **params}).json()
    assert body["total"] == len(body["items"])
    return body["items"]


def test_the_queue_separates_doubtful_data_from_unusual_months(console: Console) -> None:
    items = _all_items(console, status="open")
    doubtful = _all_items(console, status="open", kind="doubtful_data")
    unusual = _all_items(console, status="open", kind="unusual_month")
    anomalies = _all_items(console, status="open", kind="anomaly")
    assert doubtful and unusual and anomalies
    kinds = [doubtful, unusual, anomalies]
    assert {i["id"] for kind in kinds for i in kind} == {i["id"] for i in items}
    assert {i["reason_kind"] for i in doubtful} == {"doubtful_data"}
    # an anomaly says what is unusual, in the anomaly's own sentence
    assert {i["mart"] for i in anomalies} == {"anomalies"}
    assert all(i["reason"].startswith("Anomaly: ") for i in anomalies)
    # The demo's flagged client months are mostly unusual months, not doubtful data.
    client_months = [i for i in items if i["mart"] == "client_profitability"]
    unusual_months = [i for i in client_months if i["reason_kind"] == "unusual_month"]
    assert len(unusual_months) > len(client_months) / 2
    with console.api("analyst") as api:
        for item in doubtful[:5] + unusual[:5]:
            factors = api.get(f"/api/v1/reviews/{item['id']}").json()["factors"]
            without = math.prod(
                factors[f"confidence_{n}"] ** w for n, w in FACTOR_WEIGHTS.items()
                if n != "consistency"
            )  # fmt: skip
            assert (without >= THRESHOLD) == (item["reason_kind"] == "unusual_month"), item
            assert item["reason"].startswith(
                "Unusual month" if item["reason_kind"] == "unusual_month" else "Doubtful data"
            )
    with console.signed_in("analyst") as analyst:
        page = analyst.get("/console/reviews", params={"kind": "unusual_month"}).text
    assert f"Unusual month ({len(unusual)})" in page
    assert f"Doubtful data ({len(doubtful)})" in page
    assert f"Anomaly ({len(anomalies)})" in page
    assert set(_queue_ids(page)) <= {i["id"] for i in unusual}
    assert 'class="tag kind-doubtful_data"' not in page


def test_the_queue_orders_by_money_at_stake_and_names_who_it_is_about(console: Console) -> None:
    by_money = _all_items(console, status="open", sort="-money_at_stake")
    amounts = [i["money_at_stake"] for i in by_money]
    known = [a for a in amounts if a is not None]
    assert known == sorted(known, reverse=True) and known[0] > 0
    assert amounts == known + [None] * (len(amounts) - len(known))  # no dollar figure: last
    with console.api("analyst") as api:
        top = api.get(f"/api/v1/reviews/{by_money[0]['id']}").json()
    row = top["row"]
    if top["mart"] == "client_profitability":
        assert top["money_at_stake"] == max(abs(row["revenue"]), abs(row["total_cost"]))
        assert top["subject"] == row["client_name"]
    if top["mart"] == "anomalies":  # how far a money anomaly is from its usual level
        assert top["money_at_stake"] == round(abs(row["value"] - row["expected"]), 2)
    with console.signed_in("analyst") as analyst:
        page = analyst.get("/console/reviews").text  # the default order: most money first
    assert _queue_ids(page) == [i["id"] for i in by_money[:50]]
    first = by_money[0]
    assert html.escape(first["subject"]) in page
    shown = f"{round(first['confidence'] * 100)} %"
    if first["weakest_factor"]:  # an anomaly has no confidence factors of its own
        shown += f" — weakest: {first['weakest_factor'].replace('_', ' ')}"
    assert f"<td>{shown}</td>" in page


def test_a_bulk_approval_records_one_decision_and_one_audit_entry_per_item(
    console: Console,
) -> None:
    comment = "checked the month against the client's contract change"
    with console.signed_in("analyst") as analyst:
        page = analyst.get("/console/reviews", params={"kind": "unusual_month"}).text
        values = re.findall(r'name="item" value="(\d+:[0-9a-f]{64})"', page)[:3]
        assert len(values) == 3
        ids = [int(v.split(":")[0]) for v in values]
        # A stale content hash on one item: nothing is decided, not even the others.
        stale = [*values[:2], f"{ids[2]}:{'0' * 64}"]
        refused = analyst.post(
            "/console/reviews/decisions",
            data={"csrf": _csrf(page), "item": stale, "decision": "approved", "comment": comment},
        )
        assert refused.status_code == 409 and "Nothing was decided" in refused.text
        assert {i["id"]: i["status"] for i in _all_items(console, status="open")}.keys() >= set(ids)
        done = analyst.post(
            "/console/reviews/decisions",
            data={"csrf": _csrf(page), "item": values, "decision": "approved", "comment": comment,
                  "kind": "unusual_month", "status": "open", "sort": "-money_at_stake"},
        )  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"].startswith("/console/reviews?status=open&kind=unusual")
        after = analyst.get(done.headers["location"]).text
    assert "3 items approved; each decision is in the audit log." in after
    assert not set(ids) & set(_queue_ids(after))
    with console.api("analyst") as api:
        for item_id in ids:
            item = api.get(f"/api/v1/reviews/{item_id}").json()
            assert item["status"] == "approved"
            assert [(d["decision"], d["comment"]) for d in item["decisions"]] == [
                ("approved", comment)
            ]
    with console.api("admin") as api:
        entries = api.get(
            "/api/v1/audit", params={"action": "reviews.decide", "actor": "console-analyst",
                                     "limit": 500},
        ).json()["entries"]  # fmt: skip
    approvals = [e for e in entries if e["outcome"] == "approved" and e["target"] in
                 {f"reviews/{i}" for i in ids}]  # fmt: skip
    assert sorted(e["target"] for e in approvals) == sorted(f"reviews/{i}" for i in ids)
    assert all(e["details"]["comment"] == comment for e in approvals)
    assert len({e["request_id"] for e in approvals}) == 1  # one request, one entry per item


def test_an_item_page_says_why_and_what_each_decision_does(console: Console) -> None:
    item = _all_items(console, status="open", kind="doubtful_data", mart="license_utilization")[0]
    with console.signed_in("analyst") as analyst:
        page = html.unescape(analyst.get(f"/console/reviews/{item['id']}").text)
    assert item["reason"] in page and item["subject"] in page
    assert "Approve says the numbers are right as they are." in page
    assert "Reject says the numbers are wrong" in page
    assert "the item opens again" in page
    assert f"{item['money_at_stake']:,.0f}" in page
    assert "monthly waste plus monthly leakage" in page


def _staff_rows(console: Console) -> tuple[str, list[dict]]:
    with console.api("viewer") as api:
        rows = api.get("/api/v1/marts/staff_utilization", params={"limit": 10000}).json()["rows"]
    latest = max(r["month"] for r in rows)
    return latest, [r for r in rows if r["month"] == latest]


def _staff_ids(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/console/staff/([^"]+)">', page)


def test_the_staff_page_sorts_searches_and_flags_the_overloaded(console: Console) -> None:
    latest, rows = _staff_rows(console)
    by_share = sorted(
        rows, key=lambda r: (r["logged_ratio"] is None, -(r["logged_ratio"] or 0))
    )  # the page's default order: share of capacity, highest first
    overloaded = [r for r in rows if r["band"] == "overloaded"]
    assert overloaded, "the demo's latest month has an overloaded staff member"
    with console.signed_in("viewer") as viewer:
        page = viewer.get("/console/staff").text
        assert _staff_ids(page) == [r["staff_id"] for r in by_share]
        by_name = viewer.get("/console/staff", params={"sort": "staff_name"}).text
        only = viewer.get("/console/staff", params={"show": "overloaded"}).text
        under = viewer.get("/console/staff", params={"show": "under_target"}).text
        name = rows[0]["staff_name"]
        found = viewer.get("/console/staff", params={"q": name.split()[0].upper()}).text
        earlier = viewer.get("/console/staff", params={"month": "2025-01"})
        bad = viewer.get("/console/staff", params={"month": "2026-13"})
        person = viewer.get(f"/console/staff/{overloaded[0]['staff_id']}")
    assert _staff_ids(by_name) == [
        r["staff_id"] for r in sorted(rows, key=lambda r: (r["staff_name"].lower(), r["staff_id"]))
    ]
    assert set(_staff_ids(only)) == {r["staff_id"] for r in overloaded}
    assert set(_staff_ids(under)) == {
        r["staff_id"] for r in rows if r["capacity_gap_hours"] and r["capacity_gap_hours"] > 0
    }
    first = name.split()[0].lower()
    assert set(_staff_ids(found)) == {
        r["staff_id"] for r in rows if first in r["staff_name"].lower()
    }
    month_words = f"{_month_name(latest)}"
    for r in overloaded:
        share = round(r["logged_ratio"] * 100)
        over = round(Decimal(str(r["overtime_hours"])))
        sentence = f"{r['staff_name']} is at {share} % of capacity in {month_words}: {over} h over."
        assert sentence in html.unescape(page)
    summary = f"<strong>{len(overloaded)} of {len(rows)}</strong> staff"
    assert summary in page
    assert earlier.status_code == 200 and "January 2025" in earlier.text
    assert bad.status_code == 422
    assert person.status_code == 200
    assert person.text.count('<svg class="chart"') == 2
    assert "Capacity by month" in person.text and "overloaded" in person.text


def _month_name(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%B %Y")
