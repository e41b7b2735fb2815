"""Which dbt data tests a build leaves out (`tested_inputs`), on a real DuckDB warehouse and the
project's real manifest: only those whose every raw table is as the last fully tested build
found it, code and settings unchanged."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from moatmetrics.ingest.loader import ensure_ingest_schema, refresh_row_warnings
from moatmetrics.settings import Settings
from moatmetrics.warehouse.tested_inputs import (
    forget_tested,
    input_fingerprints,
    raw_tables,
    record_tested,
    untouched_models,
    untouched_tests,
)


@pytest.fixture(scope="module")
def manifest(dbt_manifest: Path) -> dict[str, Any]:
    return json.loads(dbt_manifest.read_text())


def _tests(manifest: dict[str, Any], *, reading: str | None = None) -> set[str]:
    """Every data test's name, or those that read the raw table `reading` (directly or not)."""
    parents = manifest["parent_map"]

    def reads(unique_id: str) -> bool:
        if unique_id.startswith("source."):
            return manifest["sources"][unique_id]["name"] == reading
        return any(reads(parent) for parent in parents.get(unique_id, []))

    return {
        node["name"]
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and (reading is None or reads(unique_id))
    }


@pytest.fixture
def tested(
    warehouse: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
) -> duckdb.DuckDBPyConnection:
    """A warehouse whose inputs a build of the whole graph passed every test on."""
    ensure_ingest_schema(warehouse)
    refresh_row_warnings(warehouse)
    warehouse.execute(
        "INSERT INTO raw.clients (client_id, client_name) VALUES ('C1', 'Aspen Dental')"
    )
    now = input_fingerprints(warehouse, home, raw_tables(manifest))
    assert untouched_tests(warehouse, manifest, now) == []  # no tested build yet: run them all
    record_tested(warehouse, now)
    return warehouse


def test_unchanged_inputs_leave_every_test_out(
    tested: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
):
    now = input_fingerprints(tested, home, raw_tables(manifest))
    assert set(untouched_tests(tested, manifest, now)) == _tests(manifest)


def test_a_changed_table_runs_the_tests_that_read_it(
    tested: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
):
    tested.execute(
        "INSERT INTO raw.invoices (invoice_id, line_no, client_id, invoice_date, amount)"
        " VALUES ('INV-1', 1, 'C1', DATE '2025-01-31', 100)"
    )
    now = input_fingerprints(tested, home, raw_tables(manifest))
    left_out = set(untouched_tests(tested, manifest, now))
    reading_invoices = _tests(manifest, reading="invoices")
    assert reading_invoices and not left_out & reading_invoices
    reading_staff_only = _tests(manifest, reading="staff") - reading_invoices
    assert reading_staff_only and reading_staff_only <= left_out
    assert left_out == _tests(manifest) - reading_invoices


def test_a_changed_row_is_seen_as_a_change(
    tested: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
):
    tested.execute("UPDATE raw.clients SET client_name = 'Aspen Dental LLC'")
    now = input_fingerprints(tested, home, raw_tables(manifest))
    assert not set(untouched_tests(tested, manifest, now)) & _tests(manifest, reading="clients")


def test_the_month_plans_fingerprints_stand_for_the_time_entries(
    tested: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
):
    months = {date(2025, 1, 1): "1:42"}
    record_tested(tested, input_fingerprints(tested, home, raw_tables(manifest), months))
    same = input_fingerprints(tested, home, raw_tables(manifest), dict(months))
    assert set(untouched_tests(tested, manifest, same)) == _tests(manifest)
    grown = input_fingerprints(
        tested, home, raw_tables(manifest), {**months, date(2025, 2, 1): "1:7"}
    )
    assert not set(untouched_tests(tested, manifest, grown)) & _tests(
        manifest, reading="time_entries"
    )


def test_a_setting_that_reaches_the_marts_runs_every_test(
    tested: duckdb.DuckDBPyConnection,
    home: Settings,
    manifest: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
):
    from moatmetrics.settings import get_settings

    monkeypatch.setenv("MOATMETRICS_ABSENCE_WORK_TYPES", "pto: vacation")
    now = input_fingerprints(tested, get_settings(), raw_tables(manifest))
    assert untouched_tests(tested, manifest, now) == []


def test_a_build_that_did_not_pass_leaves_no_record(
    tested: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
):
    """Every build forgets the record before dbt starts; a failed one writes none, so the next
    build runs every test, the failed one included, even on the inputs the record named."""
    now = input_fingerprints(tested, home, raw_tables(manifest))
    forget_tested(tested)
    assert untouched_tests(tested, manifest, now) == []


def test_models_are_left_out_like_tests_and_only_among_the_candidates(
    tested: duckdb.DuckDBPyConnection, home: Settings, manifest: dict[str, Any]
):
    tested.execute("INSERT INTO raw.staff (staff_id, staff_name) VALUES ('S1', 'Dana Ortiz')")
    now = input_fingerprints(tested, home, raw_tables(manifest))
    candidates = {"stg_raw__clients", "stg_raw__staff", "int_clients_corrected"}
    assert untouched_models(tested, manifest, now, candidates) == [
        "int_clients_corrected",
        "stg_raw__clients",
    ]  # the staff changed; a model not offered is never left out
    forget_tested(tested)
    assert untouched_models(tested, manifest, now, candidates) == []
