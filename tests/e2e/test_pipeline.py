"""End to end: files -> ingest -> checks -> dbt -> published snapshot, on real components."""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, copy_home
from fixture_files import FIXTURES, HANDMADE

from moatmetrics.contract.entities import ENTITIES
from moatmetrics.marts import MART_NAMES
from moatmetrics.settings import Settings
from moatmetrics.snapshots import current_snapshot
from orchestration.pipeline import run_pipeline

MART_KEYS = {
    "client_profitability": ("client_id", "month"),
    "license_utilization": ("client_id", "vendor", "product", "month"),
    "staff_utilization": ("staff_id", "month"),
}

pytestmark = pytest.mark.usefixtures("dbt_manifest")


def _text(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def published_marts(settings: Settings) -> dict[str, list[dict]]:
    """Every row of every mart of the current snapshot, as text, in key order."""
    snapshot = current_snapshot(settings)
    assert snapshot is not None, "nothing published"
    con = duckdb.connect(str(snapshot.path), read_only=True)
    try:
        marts = {}
        for mart in MART_NAMES:
            cursor = con.execute(
                f"SELECT * FROM marts.{mart} ORDER BY {', '.join(MART_KEYS[mart])}"
            )
            names = [d[0] for d in cursor.description]
            marts[mart] = [
                {n: _text(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()
            ]
        return marts
    finally:
        con.close()


def _land(settings: Settings, folder: Path, pattern: str = "*.csv") -> None:
    for path in folder.glob(pattern):
        shutil.copy(path, settings.landing_dir / path.name)


def _sorted_expected(expected: list[dict], mart: str) -> list[dict]:
    return sorted(expected, key=lambda r: tuple(str(r[k]) for k in MART_KEYS[mart]))


def test_definitions_load():
    from dagster import AssetKey

    from orchestration.definitions import defs

    keys = {"/".join(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for entity in ("clients", "staff", "time_entries", "invoices", "licenses", "expenses"):
        assert f"raw/{entity}" in keys
    for mart in MART_NAMES:
        assert f"marts/{mart}" in keys
    assert "published/snapshot" in keys
    # Lineage as the UI shows it: raw -> mart -> its evidence -> its trust scores.
    graph = defs.resolve_asset_graph()
    for mart in MART_NAMES:
        evidence = AssetKey(["evidence", f"{mart}_evidence"])
        assert AssetKey(["marts", mart]) in graph.get(evidence).parent_keys
        assert evidence in graph.get(AssetKey(["trust", f"{mart}_scores"])).parent_keys
    evidence_inputs = graph.get(AssetKey(["staging", "stg_raw__row_warnings"])).parent_keys
    assert evidence_inputs == {AssetKey(["raw", "row_warnings"])}
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert "contract_suite" in checks
    assert defs.resolve_implicit_global_asset_job_def() is not None


@pytest.fixture
def handmade_copy(handmade_home: BuiltHome, home: Settings) -> Settings:
    """The test's own home (`home`) holding a copy of the handmade home."""
    copy_home(handmade_home, home.home)
    return home


def test_handmade_fixture_equals_hand_computed_marts(handmade_home: BuiltHome):
    expected = json.loads((HANDMADE / "expected.json").read_text())
    got = published_marts(handmade_home.settings)
    for mart in MART_NAMES:
        columns = list(expected[mart][0])  # the dbt mart's columns; trust columns follow
        assert [list(row)[: len(columns)] for row in got[mart]] == [columns] * len(got[mart])
        mart_only = [{c: row[c] for c in columns} for row in got[mart]]
        assert mart_only == _sorted_expected(expected[mart], mart), mart


def test_a_new_homes_first_dbt_run_starts_from_the_installations_parse(handmade_home: BuiltHome):
    """The profile holds nothing that differs between homes, so dbt's saved parse of the
    project (`moatmetrics prepare`) is valid in a new home: no full parse (4 s) per home.
    The dbt asset writes dbt's parse events into the run's log (`dbt parse: ...`)."""
    from dagster import DagsterInstance

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(handmade_home.settings.dagster_home))
        with DagsterInstance.get() as instance:
            (run,) = instance.get_runs()
            parsing = [
                entry.user_message
                for entry in instance.all_logs(run.run_id)
                if entry.user_message.startswith("dbt parse: ")
            ]
    assert parsing, "the run's log names no dbt parse"
    assert all(line.startswith("dbt parse: Partial parsing enabled") for line in parsing), parsing


def test_importing_the_same_files_twice_changes_nothing(handmade_copy: Settings):
    home = handmade_copy
    first = published_marts(home)
    # Same rows in new files (different bytes: an extra blank line) and the same files again.
    again = home.home / "again"
    again.mkdir()
    for path in HANDMADE.glob("*.csv"):
        (again / f"{path.stem}_again.csv").write_text(path.read_text() + "\n")
    _land(home, again)
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()
    assert published_marts(home) == first


def test_moatmetrics_1x_file_set_imports_and_produces_marts(home):
    _land(home, FIXTURES / "moatmetrics_1x")
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()
    marts = published_marts(home)
    acme_january = next(
        r
        for r in marts["client_profitability"]
        if r["client_id"] == "Acme Dental" and r["month"] == "2025-01-01"
    )
    assert acme_january["revenue"] == "2500.00"
    assert acme_january["labor_hours"] == "5.00"  # two identical 2.5 h entries are two entries
    assert acme_january["labor_cost_unknown_hours"] == "5.00"  # 1.x has no staff costs
    assert acme_january["license_cost"] == "440.00"
    assert {r["staff_id"] for r in marts["staff_utilization"]} == {"Dana Ruiz", "Eli Park"}
    assert len(marts["license_utilization"]) == 2


def test_rejected_file_blocks_the_run_and_keeps_the_snapshot(handmade_copy: Settings):
    home = handmade_copy
    served = current_snapshot(home)
    before = published_marts(home)

    bad = 'invoice_id,client_id,invoice_date,amount\nX1,C001,2025-01-15,"1,000.00"\n'
    (home.landing_dir / "invoices_fix.csv").write_text(bad)
    outcome = run_pipeline(home)
    assert not outcome.success
    assert any("invoices_fix.csv: rejected" in c for c in outcome.failed_checks)
    assert "nothing published" in outcome.summary()
    # every raw table is recorded (one per entity of the contract), then the check blocks
    assert set(outcome.raw_rows) == set(ENTITIES)
    from dagster import DagsterInstance, DagsterRunStatus

    with DagsterInstance.get() as instance:  # the UI shows the run as failed
        assert instance.get_run_by_id(outcome.run_id).status == DagsterRunStatus.FAILURE
    assert current_snapshot(home).snapshot_id == served.snapshot_id
    assert published_marts(home) == before

    good = "invoice_id,client_id,invoice_date,amount,category\nX1,C001,2025-01-15,1000.00,project\n"
    (home.landing_dir / "invoices_fix_corrected.csv").write_text(good)
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()
    after = published_marts(home)
    acme = [
        (b, a)
        for b, a in zip(before["client_profitability"], after["client_profitability"], strict=True)
        if a["client_id"] == "C001" and a["month"] == "2025-01-01"
    ]
    ((old, new),) = acme
    assert Decimal(new["revenue"]) - Decimal(old["revenue"]) == Decimal("1000.00")


def test_failed_dbt_test_blocks_the_run_names_it_and_keeps_the_snapshot(handmade_copy: Settings):
    """dbt runs in the run's process: its failed data test is still a failed asset check, the
    step fails saying which test, and nothing downstream runs or publishes."""
    home = handmade_copy
    served = current_snapshot(home)
    # Ingest lets only the contract's statuses in, so the warehouse itself is edited.
    with duckdb.connect(str(home.warehouse_path)) as con:
        con.execute(
            "UPDATE raw.clients SET status = 'dormant'"
            " WHERE client_id = (SELECT min(client_id) FROM raw.clients)"
        )
    outcome = run_pipeline(home, force=True)  # no new input: the edit is by hand
    assert not outcome.success and outcome.published is None
    test_name = "accepted_values_stg_raw__clients_client_status"
    assert any(c.startswith(f"staging/stg_raw__clients.{test_name}") for c in outcome.failed_checks)
    ((step,),) = [outcome.failed_steps]
    assert step.startswith("dbt_models: ") and f"Failure in test {test_name}" in step, step
    assert current_snapshot(home).snapshot_id == served.snapshot_id
    # The run stored its events through the kept-connected event log (orchestration.event_log);
    # Dagster's own storage, as the UI and the daemon open it, reads every check of the run.
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.storage.event_log import SqliteEventLogStorage

    with DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        evaluations = [
            record.event_log_entry.dagster_event.event_specific_data
            for record in instance.get_records_for_run(
                outcome.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=1000
            ).records
        ]
    failed = {e.check_name for e in evaluations if not e.passed}
    assert {name for name in failed if name.startswith(test_name)}, failed
    assert len(evaluations) > 100  # every dbt data test of the build, passed or not
    # The warehouse is free again once dbt is done: a writer opens it, and mends the row.
    with duckdb.connect(str(home.warehouse_path)) as con:
        con.execute("UPDATE raw.clients SET status = 'active' WHERE status = 'dormant'")

    # A rerun of the failed asset alone, as from the UI: dbt builds that model and its tests.
    from dagster import AssetKey

    from orchestration.definitions import defs

    model = AssetKey(["staging", "stg_raw__clients"])
    job = defs.resolve_implicit_global_asset_job_def()
    with DagsterInstance.get() as instance:
        rerun = job.execute_in_process(instance=instance, asset_selection=[model])
    assert rerun.success
    materialized = {e.asset_key for e in rerun.get_asset_materialization_events()}
    assert materialized == {model}
    checks = {e.check_name: e.passed for e in rerun.get_asset_check_evaluations()}
    (rerun_check,) = [name for name in checks if name.startswith(test_name)]
    assert checks[rerun_check] is True and all(checks.values()), checks


def test_cli_ingest_reports_per_file_and_exit_status(home, capsys):
    from moatmetrics.cli import main

    assert main(["ingest", str(HANDMADE / "clients.csv")]) == 0
    assert "OK  clients.csv [clients]: accepted" in capsys.readouterr().out
    bad = home.home / "staff.csv"
    bad.write_text("staff_id,hourly_cost\nS1,$45\n")
    assert main(["ingest", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "REJ staff.csv [staff]: rejected" in out
    assert "row 2, column hourly_cost, value '$45': currency sign in a number" in out
