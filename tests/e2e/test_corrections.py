"""Corrections end to end: a re-uploaded export replaces, a retraction takes out, a snapshot
can be made current again. Real pipeline runs on the handmade home, the API over HTTP.

The PSA export here has no row id (a profile that maps none, as PSA grid exports and scripts
that leave `id` out do), so each entry's id is derived from its content: a corrected export
gives every changed row a new id, and only the upload scope keeps it from counting twice.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from built_homes import BuiltHome, copy_home
from fixture_files import HANDMADE
from serving import free_port, wait_for_api
from test_pipeline import published_marts

from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry, Upload
from moatmetrics.settings import Settings
from moatmetrics.snapshots import current_snapshot
from orchestration.pipeline import run_pipeline
from tests.integration.sources.vendor_files import cw_entry, cw_flat_csv

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("dbt_manifest")]

BIN = Path(sys.executable).parent / "moatmetrics"

# A user profile for a ConnectWise time export saved without the entry `id`.
PROFILE = """\
name: cw_time_without_ids
version: 1
entity: time_entries
family: connectwise
format: csv
description: ConnectWise time entries flattened to CSV by a script that leaves `id` out.
origin: tests (ConnectWise TimeEntry fields, as in the shipped connectwise_time_entries.yaml)
signature: [company.identifier, member.identifier, timeStart, actualHours, billableOption]
columns:
  staff_id: member.identifier
  client_id: company.identifier
  work_date: {from: timeStart, as: local_date}
  hours: actualHours
  billable:
    from: billableOption
    map: {Billable: "true", DoNotBill: "false", NoCharge: "false", NoDefault: "true"}
  work_type: workType.name
  bill_rate: hourlyRate
drop: [notes, enteredBy, member.name]
"""


def _export(rate: float, first_hours: float) -> str:
    """Twelve entries in March 2025 for the handmade clients and staff, without `id`."""
    entries = []
    for n in range(12):
        day = 3 + n  # 2025-03-03 .. 2025-03-14
        hours = first_hours if n == 0 else 1.0 + (n % 3) * 0.5
        company = ("C001", "C002")[n % 2]
        entry = cw_entry(n + 1, company, "S001", f"2025-03-{day:02d}T09:00:00Z", hours, rate=rate)
        del entry["id"]
        entries.append(entry)
    return cw_flat_csv(entries)


FIRST = _export(rate=150.0, first_hours=2.0)
# The corrected export of the same period: the rate was wrong on every entry (so every
# derived id changes) and the first entry had the wrong hours.
CORRECTED = _export(rate=160.0, first_hours=3.5)


def _land(settings: Settings, name: str, text: str) -> None:
    (settings.landing_dir / name).write_text(text)


def _run(settings: Settings) -> None:
    outcome = run_pipeline(settings)
    assert outcome.success, outcome.summary()


def _own(base: BuiltHome, home: Path) -> Settings:
    """A private copy of the base home, with the test's source profile."""
    settings = copy_home(base, home).settings
    (home / "sources").mkdir(exist_ok=True)
    (home / "sources" / "cw_time_without_ids.yaml").write_text(PROFILE)
    return settings


def _copy(settings: Settings, home: Path) -> Settings:
    """A private copy of a home a module fixture went on with (copy_home, from any home)."""
    snapshot = current_snapshot(settings)
    assert snapshot is not None and snapshot.path is not None
    return copy_home(BuiltHome(settings, HANDMADE, snapshot.path), home).settings


def _hours(text: str) -> dict[str, float]:
    """Hours per client of an export."""
    totals: dict[str, float] = {}
    for row in csv.DictReader(io.StringIO(text)):
        client = row["company/identifier"]
        totals[client] = totals.get(client, 0.0) + float(row["actualHours"])
    return totals


def _march_hours(settings: Settings) -> dict[str, float]:
    """Labour hours per client in March 2025 as the current snapshot publishes them."""
    snapshot = current_snapshot(settings)
    assert snapshot is not None and snapshot.path is not None
    with duckdb.connect(str(snapshot.path), read_only=True) as con:
        rows = con.execute(
            "SELECT client_id, labor_hours FROM marts.client_profitability"
            " WHERE month = DATE '2025-03-01'"
        ).fetchall()
    return {client: float(hours) for client, hours in rows}


def _plus(base: dict[str, float], added: dict[str, float]) -> dict[str, float]:
    return {c: base.get(c, 0.0) + added.get(c, 0.0) for c in base.keys() | added.keys()}


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOATMETRICS_HOME": str(settings.home)}
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=600)


def _actions(settings: Settings) -> list[tuple[str, str, str | None]]:
    with session_scope(settings) as session:
        rows = session.query(AuditEntry.action, AuditEntry.outcome, AuditEntry.target)
        return [tuple(r) for r in rows.order_by(AuditEntry.seq)]


@pytest.fixture(scope="module")
def base(handmade_home: BuiltHome) -> BuiltHome:
    """The handmade home, read only: each fixture below goes on from its own copy (`_own`)."""
    return handmade_home


@pytest.fixture(scope="module")
def only_corrected(base: BuiltHome, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The base home with only the corrected export uploaded."""
    settings = _own(base, tmp_path_factory.mktemp("only-corrected") / "home")
    _land(settings, "march_time_fixed.csv", CORRECTED)
    _run(settings)
    return settings


@pytest.fixture(scope="module")
def corrected(base: BuiltHome, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The base home, the first export, a run, the corrected export, a run."""
    settings = _own(base, tmp_path_factory.mktemp("corrected") / "home")
    _land(settings, "march_time.csv", FIRST)
    _run(settings)
    _land(settings, "march_time_fixed.csv", CORRECTED)
    _run(settings)
    return settings


@contextlib.contextmanager
def _serving(settings: Settings) -> Iterator[httpx.Client]:
    """`moatmetrics serve` on a home, and a client with an analyst key."""
    made = _cli(settings, "keys", "create", "--name", "corrections", "--role", "analyst")
    assert made.returncode == 0, made.stderr
    port = free_port()
    env = {
        **os.environ,
        "MOATMETRICS_HOME": str(settings.home),
        "MOATMETRICS_RUN_ON_UPLOAD": "0",  # the test runs the pipeline itself
    }
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_api(port, server)
        auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=30) as http:
            yield http
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_corrected_export_replaces_the_first(
    base: BuiltHome, corrected: Settings, only_corrected: Settings
):
    assert published_marts(corrected) == published_marts(only_corrected)
    # each hour once: the corrected export's, not both exports' (12 entries, not 24)
    assert _march_hours(corrected) == _plus(_march_hours(base.settings), _hours(CORRECTED))
    with session_scope(corrected) as session:
        scopes = {
            u.original_name: (u.status, u.scope_source, str(u.scope_start), str(u.scope_end))
            for u in session.query(Upload).filter(Upload.original_name.like("march_time%"))
        }
    assert scopes == {
        "march_time.csv": ("accepted", "cw_time_without_ids", "2025-03-03", "2025-03-14"),
        "march_time_fixed.csv": ("accepted", "cw_time_without_ids", "2025-03-03", "2025-03-14"),
    }


def test_retract_then_roll_back_and_run(base: BuiltHome, only_corrected: Settings, tmp_path):
    settings = _copy(only_corrected, tmp_path / "home")
    unknown_id = "20000101T000000000000Z-000000"
    with _serving(settings) as http:
        listing = http.get("/api/v1/uploads", params={"entity": "time_entries"}).json()
        fixed = next(u for u in listing["uploads"] if u["file_name"] == "march_time_fixed.csv")
        assert (fixed["scope_source"], fixed["scope_start"], fixed["scope_end"]) == (
            "cw_time_without_ids", "2025-03-03", "2025-03-14",
        )  # fmt: skip
        path = f"/api/v1/uploads/{fixed['id']}/retract"
        assert http.post(path, json={"reason": ""}).status_code == 422
        done = http.post(path, json={"reason": "bad rate"})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["run_requested"]) == ("retracted", False)
        shown = http.get(f"/api/v1/uploads/{fixed['id']}").json()
        assert (shown["status"], shown["retract_reason"]) == ("retracted", "bad rate")
        again = _cli(settings, "uploads", "retract", str(fixed["id"]), "--reason", "twice")
        assert again.returncode == 1 and "is retracted, not accepted" in again.stderr

        # Roll back to the base home's snapshot: the API serves it from the next request.
        unknown = _cli(settings, "snapshots", "use", unknown_id)
        assert unknown.returncode == 1 and "no published snapshot" in unknown.stderr
        used = _cli(settings, "snapshots", "use", base.snapshot_id)
        assert used.returncode == 0, used.stderr
        assert http.get("/api/v1/snapshots/current").json()["snapshot_id"] == base.snapshot_id
        page = http.get("/api/v1/marts/client_profitability", params={"limit": 1}).json()
        assert page["snapshot_id"] == base.snapshot_id

    # The next run takes the retracted upload's rows out: as if it had never been uploaded.
    _run(settings)
    assert current_snapshot(settings).snapshot_id != base.snapshot_id  # a new publish
    assert published_marts(settings) == published_marts(base.settings)
    actions = _actions(settings)
    assert ("uploads.retract", "ok", f"uploads/{fixed['id']}") in actions
    assert ("pipeline.retract", "ok", "raw/time_entries") in actions
    assert ("snapshots.use", "ok", f"snapshots/{base.snapshot_id}") in actions
    assert ("snapshots.use", "refused", f"snapshots/{unknown_id}") in actions
