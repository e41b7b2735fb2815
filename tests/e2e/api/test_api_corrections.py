"""Corrections end to end: an analyst excludes a time entry and corrects another's hours over
HTTP, the next pipeline run (which also re-imports the same time entries) applies both to the
marts and says so in the explanation, reverting them brings back the original numbers, and
every step is in the audit log."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import duckdb
import pytest
from built_homes import BuiltHome, copy_home
from fixture_files import HANDMADE

from moatmetrics.appdb.audit import AuditFilter, iter_entries
from moatmetrics.appdb.db import session_scope
from moatmetrics.settings import Settings
from moatmetrics.snapshots import current_snapshot

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dbt_manifest")]

CLIENT_MONTH = ("C001", "2025-01-01")  # T001 6.50 h + T002 3.00 h + T007 2.25 h of labour
STAFF_MONTH = ("S001", "2025-01-01")  # T001 and T002 are Alice's


def _rows(settings: Settings, mart: str, key: tuple[str, ...]) -> dict[tuple[str, ...], dict]:
    snapshot = current_snapshot(settings)
    assert snapshot is not None and snapshot.path is not None
    with duckdb.connect(str(snapshot.path), read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM marts.{mart}")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return {tuple(str(r[k]) for k in key): r for r in rows}


def _published(settings: Settings) -> dict[str, dict[tuple[str, ...], dict]]:
    return {
        "client_profitability": _rows(settings, "client_profitability", ("client_id", "month")),
        "staff_utilization": _rows(settings, "staff_utilization", ("staff_id", "month")),
    }


def _run(settings: Settings) -> None:
    from orchestration.pipeline import run_pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOATMETRICS_HOME", str(settings.home))
        outcome = run_pipeline(settings)
    assert outcome.success and outcome.published, outcome.summary()


def _numbers(row: dict) -> dict:
    """The mart's own columns of a published row (not the trust layer's)."""
    trust = {"explanation", "drivers", "needs_review", "review_status"}
    return {c: v for c, v in row.items() if c not in trust and not c.startswith("confidence")}


def _without_review(rows: dict[tuple[str, ...], dict]) -> dict[tuple[str, ...], dict]:
    # review_status follows the review queue's history, not the numbers
    return {k: {c: v for c, v in r.items() if c != "review_status"} for k, r in rows.items()}


@pytest.fixture
def handmade_copy(tmp_path: Path, backend, request: pytest.FixtureRequest) -> BuiltHome:
    """A private copy of the session's handmade home (DuckDB mode only)."""
    if backend.postgres:
        pytest.skip("the pipeline runs on DuckDB here; PostgreSQL mode has its own e2e test")
    return copy_home(request.getfixturevalue("handmade_home"), tmp_path / "home")


def test_corrections_change_the_marts_until_reverted(handmade_copy: BuiltHome, start_server):
    settings = handmade_copy.settings
    before = _published(settings)
    server = start_server(settings.home)
    analyst = server.client("analyst")
    assert float(before["client_profitability"][CLIENT_MONTH]["labor_hours"]) == 11.75
    assert before["client_profitability"][CLIENT_MONTH]["overridden_rows"] == 0

    bad = analyst.post(
        "/api/v1/corrections",
        json={"entity": "time_entries", "row_key": {"entry_id": "T001"}, "action": "set",
              "column": "hours", "value": "lots", "reason": "typo"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["detail"] == (
        "time_entries column hours: value 'lots' is not a number with at most 4 decimal"
        " places; fix: write e.g. 7.5"
    )
    assert server.client("viewer").get("/api/v1/corrections").status_code == 403

    made: list[dict[str, Any]] = []
    for body in (
        {"entity": "time_entries", "row_key": {"entry_id": "T002"}, "action": "exclude",
         "reason": "Logged twice: the same visit is T001"},
        {"entity": "time_entries", "row_key": {"entry_id": "T001"}, "action": "set",
         "column": "hours", "value": 5, "reason": "Ticket TK-100 says 5 hours"},
        {"entity": "time_entries", "row_key": {"entry_id": "T999"}, "action": "exclude",
         "reason": "Not in this export"},
    ):  # fmt: skip
        response = analyst.post("/api/v1/corrections", json=body)
        assert response.status_code == 201, response.text
        made.append(response.json())
    assert made[1]["value"] == "5" and made[1]["summary"] == "set hours = 5"
    twice = analyst.post(
        "/api/v1/corrections",
        json={"entity": "time_entries", "row_key": {"entry_id": "T001"}, "action": "set",
              "column": "hours", "value": "4", "reason": "again"},
    )  # fmt: skip
    assert twice.status_code == 409

    # The same time entries exported again (a new file: CRLF line ends): the corrections are
    # keyed by entry_id, so they apply to the re-imported rows.
    reimport = (HANDMADE / "time_entries.csv").read_text().replace("\n", "\r\n")
    (settings.landing_dir / "time_entries.csv").write_text(reimport, newline="")
    _run(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        imports = con.execute(
            "SELECT count(*) FROM ingest.uploads WHERE entity = 'time_entries'"
            " AND status = 'accepted'"
        ).fetchone()
    assert imports == (2,)
    corrected = _published(settings)
    client = corrected["client_profitability"][CLIENT_MONTH]
    assert float(client["labor_hours"]) == 11.75 - 3.00 - 1.50
    assert client["overridden_rows"] == 2
    assert client["explanation"].endswith(" 2 rows corrected by an analyst.")
    staff = corrected["staff_utilization"][STAFF_MONTH]
    assert (
        float(staff["logged_hours"])
        == float(before["staff_utilization"][STAFF_MONTH]["logged_hours"]) - 4.5
    )
    assert staff["overridden_rows"] == 2
    assert staff["explanation"].endswith(" 2 rows corrected by an analyst.")
    # Rows no correction touches keep their numbers (their explanations and confidence may
    # compare with a corrected month or the portfolio, so those can move).
    for mart, rows in before.items():
        for key, row in rows.items():
            if corrected[mart][key]["overridden_rows"] == 0:
                assert _numbers(corrected[mart][key]) == _numbers(row), (mart, key)
    listed = {c["id"]: c for c in analyst.get("/api/v1/corrections").json()["items"]}
    assert [listed[c["id"]]["row_status"] for c in made] == ["applied", "applied", "row_not_found"]
    assert listed[made[2]["id"]]["row_status_text"] == "row not found in the latest data"
    exported = list(csv.DictReader(io.StringIO(analyst.get("/api/v1/corrections/export").text)))
    assert [r["reason"] for r in exported] == [b["reason"] for b in made]

    for correction in made:
        reverted = analyst.post(f"/api/v1/corrections/{correction['id']}/revert")
        assert reverted.status_code == 200 and reverted.json()["state"] == "reverted"
    _run(settings)
    assert {m: _without_review(r) for m, r in _published(settings).items()} == {
        m: _without_review(r) for m, r in before.items()
    }

    with session_scope(settings) as session:
        actions = [
            (e.action, e.target)
            for e in iter_entries(session, AuditFilter(action="corrections."))
            if e.status is None or e.status < 400
        ]
        runs = list(iter_entries(session, AuditFilter(action="pipeline.corrections")))
    ids = [c["id"] for c in made]
    assert [a for a in actions if a[0] == "corrections.create"] == [
        ("corrections.create", f"corrections/{i}") for i in ids
    ]
    assert [a for a in actions if a[0] == "corrections.revert"] == [
        ("corrections.revert", f"corrections/{i}") for i in ids
    ]
    assert len(runs) == 1  # the run after the reverts had nothing to apply
