"""Which months of time entries the next dbt build replaces (`incremental_months`), on a real
DuckDB warehouse: every change to a month's raw rows names that month, and only that month;
a change to anything every month reads names them all."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from moatmetrics.ingest.loader import ensure_ingest_schema
from moatmetrics.settings import Settings
from moatmetrics.warehouse.incremental_months import MONTHS_ENV, plan_months, record_build

JANUARY, FEBRUARY, MARCH = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


def _add_entry(con: duckdb.DuckDBPyConnection, entry_id: str, work_date: str, hours=2) -> None:
    con.execute(
        "INSERT INTO raw.time_entries (entry_id, staff_id, client_id, work_date, hours,"
        " billable, work_type, _upload_id, _row_number)"
        " VALUES (?, 'S1', 'C1', CAST(? AS DATE), ?, true, 'support', 'u1', 1)",
        [entry_id, work_date, hours],
    )


@pytest.fixture
def built(warehouse: duckdb.DuckDBPyConnection, home: Settings) -> duckdb.DuckDBPyConnection:
    """A warehouse with two months of entries, built once (its plan recorded)."""
    ensure_ingest_schema(warehouse)
    _add_entry(warehouse, "E1", "2025-01-10")
    _add_entry(warehouse, "E2", "2025-02-10")
    plan = plan_months(warehouse, home)
    assert plan.full and plan.reason == "no build recorded yet"
    assert plan.months == [JANUARY, FEBRUARY]
    assert plan.dbt_args() == ["--full-refresh"]
    assert plan.dbt_environment() == {MONTHS_ENV: "all"}
    record_build(warehouse, plan)
    return warehouse


def test_nothing_changed_rebuilds_no_month(built: duckdb.DuckDBPyConnection, home: Settings):
    plan = plan_months(built, home)
    assert (plan.full, plan.months) == (False, [])
    assert plan.dbt_args() == []
    assert plan.dbt_environment() == {MONTHS_ENV: ""}
    assert plan.summary() == "time entries: no month changed"


def test_a_new_entry_rebuilds_its_month_only(built: duckdb.DuckDBPyConnection, home: Settings):
    _add_entry(built, "E3", "2025-03-02")
    plan = plan_months(built, home)
    assert (plan.full, plan.months) == (False, [MARCH])
    assert plan.dbt_environment() == {MONTHS_ENV: "2025-03-01"}
    record_build(built, plan)
    assert plan_months(built, home).months == []


def test_a_changed_entry_rebuilds_its_month(built: duckdb.DuckDBPyConnection, home: Settings):
    built.execute("UPDATE raw.time_entries SET hours = 3 WHERE entry_id = 'E2'")
    assert plan_months(built, home).months == [FEBRUARY]


def test_a_moved_entry_rebuilds_the_month_it_left_and_the_one_it_joined(
    built: duckdb.DuckDBPyConnection, home: Settings
):
    built.execute("UPDATE raw.time_entries SET work_date = DATE '2025-03-05' WHERE entry_id = 'E1'")
    plan = plan_months(built, home)
    assert plan.months == [JANUARY, MARCH]
    assert plan.dbt_environment() == {MONTHS_ENV: "2025-01-01,2025-03-01"}


def test_a_month_whose_entries_went_is_rebuilt(built: duckdb.DuckDBPyConnection, home: Settings):
    built.execute("DELETE FROM raw.time_entries WHERE entry_id = 'E1'")  # a retracted upload
    assert plan_months(built, home).months == [JANUARY]


def test_the_same_row_from_a_new_upload_rebuilds_its_month(
    built: duckdb.DuckDBPyConnection, home: Settings
):
    """The lineage (upload id, row number) reaches the intermediate tables: it counts."""
    built.execute("UPDATE raw.time_entries SET _upload_id = 'u2' WHERE entry_id = 'E1'")
    assert plan_months(built, home).months == [JANUARY]


@pytest.mark.parametrize(
    "change",
    [
        "INSERT INTO raw.staff (staff_id, hourly_cost) VALUES ('S1', 50)",
        "INSERT INTO raw.clients (client_id, client_name) VALUES ('C9', 'Aspen Dental')",
        "INSERT INTO raw.client_aliases (source, source_key, client_id)"
        " VALUES ('connectwise', 'ASPEN', 'C9')",
        "INSERT INTO raw.license_facts (client_source, client_key, client_name)"
        " VALUES ('partner_center', 'tenant-1', 'Aspen Dental')",
        "INSERT INTO raw.row_overrides (override_id, entity, action, entry_id)"
        " VALUES (1, 'time_entries', 'exclude', 'E1')",
        "INSERT INTO raw.row_overrides (override_id, entity, action, staff_id, column_name, value)"
        " VALUES (2, 'staff', 'set', 'S1', 'hourly_cost', '60')",
    ],
    ids=[
        "staff",
        "clients",
        "aliases",
        "licence-fact-names",
        "entry-correction",
        "staff-correction",
    ],
)
def test_a_change_every_month_reads_rebuilds_every_month(
    built: duckdb.DuckDBPyConnection, home: Settings, change: str
):
    built.execute(change)
    plan = plan_months(built, home)
    assert plan.full
    assert plan.reason == "clients, aliases, staff, corrections, settings or code changed"
    assert plan.months == [JANUARY, FEBRUARY]


def test_what_time_entries_do_not_read_rebuilds_no_month(
    built: duckdb.DuckDBPyConnection, home: Settings
):
    built.execute(
        "INSERT INTO raw.row_overrides (override_id, entity, action, invoice_id, line_no)"
        " VALUES (3, 'invoices', 'exclude', 'INV-1', 1)"
    )
    built.execute(
        "INSERT INTO raw.invoices (invoice_id, line_no, client_id, invoice_date, amount)"
        " VALUES ('INV-1', 1, 'C1', DATE '2025-01-31', 100)"
    )
    assert (plan_months(built, home).full, plan_months(built, home).months) == (False, [])


def test_a_setting_that_reaches_the_marts_rebuilds_every_month(
    built: duckdb.DuckDBPyConnection, home: Settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MOATMETRICS_ABSENCE_WORK_TYPES", "pto: vacation")
    assert plan_months(built, home).full


def test_a_full_refresh_when_asked(built: duckdb.DuckDBPyConnection, home: Settings):
    plan = plan_months(built, home, full_refresh=True)
    assert plan.full and plan.reason == "a full refresh was asked for"


def test_a_failed_build_leaves_the_record_so_its_months_are_planned_again(
    built: duckdb.DuckDBPyConnection, home: Settings
):
    _add_entry(built, "E3", "2025-03-02")
    assert plan_months(built, home).months == [MARCH]  # dbt failed: nothing recorded
    _add_entry(built, "E4", "2025-01-20")
    assert plan_months(built, home).months == [JANUARY, MARCH]
