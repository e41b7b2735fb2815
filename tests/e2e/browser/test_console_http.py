"""The console's rules over plain HTTP: sign-in, cookie, roles, CSRF, audit, speed.

No browser here: these are the acceptance rules that must hold for any client (a viewer
never gets review actions or the audit page, a forged POST without the CSRF token is
refused), checked against the real API process serving a real demo home.
"""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
import sys

import httpx
from checkout import REPO_ROOT
from console_home import Console
from serving import served_api

from api.main import create_app
from api.security import CONSOLE_PUBLIC_PATHS, route_table
from moatmetrics.appdb import audit, keys
from moatmetrics.appdb.db import session_scope
from moatmetrics.settings import get_settings


def _open_item(console: Console, offset: int) -> dict:
    with console.api("analyst") as api:
        page = api.get("/api/v1/reviews", params={"status": "open", "limit": 1, "offset": offset})
        return page.json()["items"][0]


def test_sign_in_rejects_a_bad_key_and_sets_a_strict_cookie_for_a_good_one(
    console: Console,
) -> None:
    with httpx.Client(base_url=console.url) as http:
        assert http.get("/").headers["location"] == "/console"
        first = http.get("/console/clients")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/sign-in?next=/console/clients"
        form = http.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        unknown_key = "mmk_00000000_" + "x" * 43
        bad = http.post("/console/sign-in", data={"csrf": token, "key": unknown_key})
        assert bad.status_code == 401 and "No key matches" in bad.text
        assert "mm_console=" not in bad.headers.get("set-cookie", "")
        token = re.search(r'name="csrf" value="([^"]+)"', bad.text).group(1)  # a fresh form
        good = http.post(
            "/console/sign-in",
            data={"csrf": token, "key": console.keys["viewer"], "next": "https://evil.example/"},
        )
        assert good.status_code == 303 and good.headers["location"] == "/console"
        cookie = good.headers["set-cookie"]
        assert "mm_console=" in cookie and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower() and "Path=/console" in cookie
        assert http.get("/console").status_code == 200
        # The cookie is for the console only: the API still wants a Bearer key.
        assert http.get("/api/v1/marts").status_code == 401
    with console.api("admin") as api:
        entries = api.get("/api/v1/audit", params={"action": "console.sign_in"}).json()["entries"]
    outcomes = {(e["actor"], e["outcome"]) for e in entries}
    assert ("console-viewer", "ok") in outcomes and ("anonymous", "denied") in outcomes


def test_sign_in_form_needs_its_own_token_and_takes_no_large_body(console: Console) -> None:
    with httpx.Client(base_url=console.url) as http:  # no sign-in cookie: a cross-site post
        forged = http.post("/console/sign-in", data={"csrf": "x", "key": console.keys["admin"]})
        assert forged.status_code == 403
        assert "mm_console=" not in forged.headers.get("set-cookie", "")
        # The one public route with a body: anonymous, so bounded like every API body.
        huge = http.post("/console/sign-in", data={"key": "x" * (2 * 2**20)})
        assert huge.status_code == 413

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(40):
                yield b"key=" + b"x" * 65536

        chunked = http.post(
            "/console/sign-in", content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert chunked.status_code == 413


def test_viewer_sees_no_review_actions_and_no_audit_page(console: Console) -> None:
    item = _open_item(console, 0)
    with console.signed_in("viewer") as viewer:
        overview = viewer.get("/console")
        assert overview.status_code == 200
        assert 'href="/console/reviews"' not in overview.text
        assert 'href="/console/audit"' not in overview.text
        audit_page = viewer.get("/console/audit")
        assert audit_page.status_code == 403 and "text/html" in audit_page.headers["content-type"]
        assert viewer.get("/console/audit/export").status_code == 403
        assert viewer.get("/console/reviews").status_code == 403
        item_page = viewer.get(f"/console/reviews/{item['id']}")
        assert item_page.status_code == 403 and "Approve" not in item_page.text
        uploads = viewer.get("/console/uploads")
        assert uploads.status_code == 200 and 'type="file"' not in uploads.text
        token = re.search(r'name="csrf" value="([^"]+)"', overview.text).group(1)
        decided = viewer.post(
            f"/console/reviews/{item['id']}/decision", data={"csrf": token, "decision": "approved"}
        )
        assert decided.status_code == 403
    with console.signed_in("analyst") as analyst:
        page = analyst.get(f"/console/reviews/{item['id']}")
        assert page.status_code == 200 and "Approve" in page.text and "Reject" in page.text
        assert analyst.get("/console/audit").status_code == 403
    assert _item_status(console, item["id"]) == "open"


def _item_status(console: Console, item_id: int) -> str:
    with console.api("analyst") as api:
        return api.get(f"/api/v1/reviews/{item_id}").json()["status"]


def test_a_forged_post_without_the_csrf_token_is_refused(console: Console) -> None:
    item = _open_item(console, 1)
    url = f"/console/reviews/{item['id']}/decision"
    with console.signed_in("analyst") as analyst:
        for data in ({"decision": "approved"}, {"decision": "approved", "csrf": "0" * 64}):
            forged = analyst.post(url, data=data)
            assert forged.status_code == 403, forged.text
            assert "CSRF" in forged.text
        upload = analyst.post(
            "/console/uploads", files={"file": ("clients.csv", b"client_id,client_name\nX,Y\n")}
        )
        assert upload.status_code == 403
        assert analyst.post("/console/sign-out").status_code == 403
    assert _item_status(console, item["id"]) == "open"
    with console.api("admin") as api:
        denied = api.get(
            "/api/v1/audit", params={"action": "reviews.decide", "target": "console/reviews/"}
        ).json()["entries"]
    assert any(e["status"] == 403 and e["actor"] == "console-analyst" for e in denied)


def test_retract_on_the_upload_page_needs_the_token_an_analyst_and_a_reason(
    console: Console,
) -> None:
    from moatmetrics.appdb.uploads import record_ingest_result
    from moatmetrics.ingest.loader import UploadResult

    # An accepted upload of its own (as `moatmetrics ingest` records one): the demo's stay.
    result = UploadResult("time_entries_retract_me.csv", "time_entries", "accepted", "u" + "e" * 16)
    result.scope_source = "canonical"
    (upload_id,) = record_ingest_result(result, [], console.settings, source="cli")
    page_url, url = f"/console/uploads/{upload_id}", f"/console/uploads/{upload_id}/retract"
    with console.signed_in("viewer") as viewer:
        page = viewer.get(page_url)
        assert page.status_code == 200 and "Scope" in page.text and url not in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert viewer.post(url, data={"csrf": token, "reason": "x"}).status_code == 403
    with console.signed_in("analyst") as analyst:
        page = analyst.get(page_url)
        assert f'action="{url}"' in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        assert analyst.post(url, data={"reason": "no token"}).status_code == 403
        empty = analyst.post(url, data={"csrf": token, "reason": ""})
        assert empty.status_code == 422 and "Give a reason" in empty.text
        done = analyst.post(url, data={"csrf": token, "reason": "wrong client"})
        assert done.status_code == 303 and done.headers["location"] == f"{page_url}?retracted=1"
        shown = analyst.get(done.headers["location"])
        assert "retracted" in shown.text and "wrong client" in shown.text
        assert f'action="{url}"' not in shown.text  # nothing left to retract
        again = analyst.post(url, data={"csrf": token, "reason": "twice"})
        assert again.status_code == 409 and "not accepted" in again.text
    with console.api("admin") as api:
        entries = api.get(
            "/api/v1/audit", params={"action": "uploads.retract", "target": f"uploads/{upload_id}"}
        ).json()["entries"]
    assert [e["outcome"] for e in entries if e["actor"] == "console-analyst"].count("ok") == 1


def test_a_revoked_key_ends_the_session(console: Console) -> None:
    with session_scope(console.settings, write=True) as session:
        info, secret = keys.create_key(session, audit.Actor("tests"), "console-short", "viewer")
    console.keys["short"] = secret
    with console.signed_in("short") as http:
        assert http.get("/console/uploads").status_code == 200
        with session_scope(console.settings, write=True) as session:
            keys.revoke_key(session, audit.Actor("tests"), info.id)
        again = http.get("/console/uploads")
        assert again.status_code == 303 and again.headers["location"].startswith("/console/sign-in")


def test_pages_load_on_the_demo_data(console: Console) -> None:
    item = _open_item(console, 2)
    with console.api("viewer") as api:
        client_id = api.get("/api/v1/marts/client_risk", params={"limit": 1}).json()["rows"][0][
            "client_id"
        ]
        staff = api.get("/api/v1/marts/staff_utilization", params={"limit": 1}).json()
        staff_id = staff["rows"][0]["staff_id"]
    pages = [
        "/console", "/console/clients", f"/console/clients/{client_id}", "/console/staff",
        f"/console/staff/{staff_id}", "/console/reviews", "/console/reviews?kind=unusual_month",
        f"/console/reviews/{item['id']}", "/console/uploads", "/console/reports",
        "/console/audit", "/console/static/console.css",
    ]  # fmt: skip
    with console.signed_in("admin") as admin:
        for path in pages:
            response = admin.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            if path.startswith("/console/static/"):
                continue
            # Not framable (no clickjacking of the review buttons); forms post back only here.
            policy = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy, path
            # Everything a page loads comes from this server: no CDN, font or tracker.
            assert not re.findall(r'(?:src|href|action)="(?:https?:)?//', response.text), path


def test_the_client_page_shows_the_clients_trends_as_the_api_serves_them(
    console: Console,
) -> None:
    with console.api("viewer") as api:
        client_id = api.get("/api/v1/marts/client_risk", params={"limit": 1}).json()["rows"][0][
            "client_id"
        ]
        served = api.get(
            "/api/v1/marts/trends",
            params={"client_id": client_id, "entity_type": "client", "limit": 10_000},
        ).json()["rows"]
    with console.signed_in("viewer") as viewer:
        page = html.unescape(viewer.get(f"/console/clients/{client_id}").text)
    by_month: dict[str, list[str]] = {}
    for row in served:
        by_month.setdefault(row["month"], []).append(row["explanation"])
    shown = [month for month, sentences in by_month.items() if sentences[0] in page]
    assert len(shown) == 1, shown  # one month's trends: the newest month the page shows
    sentences = by_month[shown[0]]
    assert len(sentences) >= 4  # revenue, margin, hours, rate at least
    assert all(sentence in page for sentence in sentences)


def test_the_client_page_shows_its_forecast_and_actions_as_the_api_serves_them(
    console: Console,
) -> None:
    with console.api("viewer") as api:
        actions = api.get("/api/v1/marts/actions", params={"limit": 1}).json()["rows"]
        client_id = actions[0]["client_id"]
        served = {
            mart: api.get(
                f"/api/v1/marts/{mart}", params={"client_id": client_id, "limit": 10_000}
            ).json()["rows"]
            for mart in ("forecasts", "actions")
        }
    with console.signed_in("viewer") as viewer:
        page = html.unescape(viewer.get(f"/console/clients/{client_id}").text)
    assert len(served["forecasts"]) == 6  # labour hours and revenue, three months each
    assert served["actions"]
    for rows in served.values():
        assert all(row["explanation"] in page for row in rows)


def test_the_console_shows_the_anomalies_the_api_serves(console: Console) -> None:
    """The insights page of a month lists its anomalies (largest first), and a client's page
    lists its own and its licences' anomalies, each with the sentence the API serves."""
    with console.api("viewer") as api:
        newest = api.get("/api/v1/marts/anomalies", params={"sort": "-month", "limit": 1})
        month = newest.json()["rows"][0]["month"][:7]
        listed = api.get(
            "/api/v1/marts/anomalies",
            params={"month_from": month, "month_to": month, "sort": "-score", "limit": 10},
        ).json()
        client_id = next(r["client_id"] for r in listed["rows"] if r["client_id"])
        own = api.get(
            "/api/v1/marts/anomalies", params={"client_id": client_id, "limit": 1000}
        ).json()["rows"]
    with console.signed_in("viewer") as viewer:
        insights_page = html.unescape(viewer.get("/console/insights", params={"month": month}).text)
        client_page = html.unescape(viewer.get(f"/console/clients/{client_id}").text)
    assert listed["rows"] and own
    assert all(row["explanation"] in insights_page for row in listed["rows"])
    word = "month" if listed["total"] == 1 else "months"
    assert f"{listed['total']} {word} far from their own last year" in insights_page
    assert all(row["explanation"] in client_page for row in own)
    assert 'href="/console/reviews?kind=anomaly"' in insights_page


def test_the_insights_page_shows_what_changed_is_coming_and_to_do(console: Console) -> None:
    with console.api("viewer") as api:
        month = max(
            row["month"]
            for row in api.get("/api/v1/marts/month_completeness").json()["rows"]
            if row["is_complete"]
        )
        portfolio = api.get(
            "/api/v1/marts/trends",
            params={"entity_type": "portfolio", "month_from": month[:7], "month_to": month[:7]},
        ).json()["rows"]
        team = api.get(
            "/api/v1/marts/forecasts", params={"entity_type": "team", "metric": "capacity_gap"}
        ).json()["rows"]
        actions = api.get("/api/v1/marts/actions", params={"limit": 10}).json()
    with console.signed_in("viewer") as viewer:
        response = viewer.get("/console/insights")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert len(portfolio) >= 6 and len(team) == 3 and len(actions["rows"]) == 10
    for row in [*portfolio, *team, *actions["rows"]]:
        assert row["explanation"] in page
    assert f"{actions['total']} actions for" in page
    with console.api("viewer") as api:
        bands = api.get(
            "/api/v1/marts/benchmarks", params={"month_from": month[:7], "month_to": month[:7]}
        ).json()["rows"]
    assert len(bands) >= 4
    for band in bands:
        assert f'href="{band["source_url"]}"' in page and band["finding"] in page
    assert 'href="/console/insights" aria-current="page"' in page


def test_console_routes_match_docs_console_md(tmp_path) -> None:
    """docs/console.md lists every console page with the role it needs: code and docs agree."""
    text = (REPO_ROOT / "docs" / "console.md").read_text()
    documented = dict(re.findall(r"^\| `((?:GET|POST) /console[^`]*)` \| (\w+) \|", text, re.M))
    table = route_table(create_app(dataclasses.replace(get_settings(), home=tmp_path)))
    actual = {}
    for entry in table:
        if entry.path.startswith("/console") and not entry.public:
            for method in entry.methods - {"HEAD"}:
                actual[f"{method} {entry.path}"] = entry.rule.role
    assert actual == documented
    assert {e.path for e in table if e.public and e.path.startswith(("/console", "/"))} >= set(
        CONSOLE_PUBLIC_PATHS
    )


def test_before_the_first_publish_pages_say_what_to_do(tmp_path) -> None:
    """A new home: the overview explains there is nothing yet; uploads already work."""
    settings = dataclasses.replace(get_settings(), home=tmp_path)
    with session_scope(settings, write=True) as session:
        key = keys.create_key(session, audit.Actor("tests"), "new-home", "analyst")[1]
    with served_api(tmp_path, MOATMETRICS_RUN_ON_UPLOAD="0") as url:
        console = Console(url, tmp_path, {"analyst": key}, settings)
        with console.signed_in("analyst") as http:
            overview = http.get("/console")
            assert overview.status_code == 503
            assert "No snapshot published yet" in overview.text
            assert 'href="/console/uploads"' in overview.text
            assert http.get("/console/uploads").status_code == 200


def test_the_gate_imports_on_its_own() -> None:
    """api.request_gate serves the console's error pages and the console's sign-in uses
    api.request_gate: either may be imported first (bench/gate_overhead.py imports the gate
    alone)."""
    for module in ("api.request_gate", "api.console.routers.auth"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
