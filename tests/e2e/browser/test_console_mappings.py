"""The console's Mappings page over HTTP: the mapping tables in force, a row added as a one-row
upload that the next run applies, and withdrawn again by retracting that upload."""

from __future__ import annotations

import re

from console_home import Console
from serving import wait_until


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_viewer_reads_the_mappings_and_cannot_change_them(console: Console) -> None:
    with console.signed_in("viewer") as viewer:
        page = viewer.get("/console/mappings")
        assert page.status_code == 200
        assert "Client aliases" in page.text and "Account map" in page.text
        assert 'action="/console/mappings/client_aliases"' not in page.text  # no form
        refused = viewer.post(
            "/console/mappings/client_aliases",
            data={
                "csrf": _csrf(page.text),
                "source": "xero",
                "source_key": "X",
                "client_id": "C001",
            },
        )
        assert refused.status_code == 403


def test_a_bad_row_is_refused_with_the_column_and_the_fix(console: Console) -> None:
    with console.signed_in("analyst") as analyst:
        page = analyst.get("/console/mappings").text
        bad = analyst.post(
            "/console/mappings/account_map",
            data={"csrf": _csrf(page), "source": "xero", "account": "200", "category": "sales"},
        )
        assert bad.status_code == 422
        assert "category &#39;sales&#39; is not an invoice category; use one of recurring" in (
            bad.text
        )
        unknown = analyst.post(
            "/console/mappings/client_aliases",
            data={"csrf": _csrf(page), "source": "sage", "source_key": "X", "client_id": "C001"},
        )
        assert unknown.status_code == 422 and "is not a profile family" in unknown.text
    with console.api("analyst") as api:
        names = [u["file_name"] for u in api.get("/api/v1/uploads").json()["uploads"]]
    assert "account_map_console.csv" not in names  # nothing landed


def test_an_alias_added_applies_at_the_next_run_and_is_withdrawn_by_retracting_it(
    console: Console,
) -> None:
    with console.signed_in("analyst") as analyst:
        page = analyst.get("/console/mappings").text
        saved = analyst.post(
            "/console/mappings/client_aliases",
            data={
                "csrf": _csrf(page), "source": "connectwise", "source_key": "ACMEDENT",
                "client_id": "C001",
            },
        )  # fmt: skip
        assert saved.status_code == 303, saved.text
        upload_id = int(saved.headers["location"].rsplit("saved=", 1)[1])
        with console.api("analyst") as api:
            upload = wait_until(
                lambda: (
                    (u := api.get(f"/api/v1/uploads/{upload_id}").json())["status"] != "received"
                    and u
                )
            )
        assert upload["entity"] == "client_aliases" and upload["status"] == "accepted"
        assert (upload["rows_loaded"], upload["uploaded_by"]) == (1, "console-analyst")
        # Once the run it asked for publishes, the page lists the row with its upload.
        listed = wait_until(
            lambda: (
                "ACMEDENT" in (text := analyst.get("/console/mappings").text)
                and "Withdraw" in text
                and text
            )
        )
        assert f'href="/console/uploads/{upload_id}">upload #{upload_id}</a>' in listed
        withdraw = re.search(
            rf'<form method="post" action="/console/uploads/{upload_id}/retract">(.*?)</form>',
            listed,
            re.S,
        )
        assert withdraw
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', withdraw.group(1)))
        retracted = analyst.post(f"/console/uploads/{upload_id}/retract", data=fields)
        assert retracted.status_code == 303
    with console.api("admin") as api:
        assert api.get(f"/api/v1/uploads/{upload_id}").json()["status"] == "retracted"
        created = api.get("/api/v1/audit", params={"action": "uploads.create"}).json()["entries"]
        withdrawn = api.get("/api/v1/audit", params={"action": "uploads.retract"}).json()["entries"]
    assert any(e["actor"] == "console-analyst" for e in created)
    assert any(e["details"].get("reason") == "withdrawn on the mappings page" for e in withdrawn)
