"""The dbt project: `dbt build` (models, data tests, unit tests) on the hand-made fixture,
the marts compared exactly with the hand-computed expected rows, on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from dbt_test_support import (
    DBT_PROJECT_DIR,
    HAND_COMPUTED_MARTS,
    MART_KEYS,
    RAW_TABLES,
    DuckdbBuild,
    load_raw_duckdb,
    load_raw_postgres,
    mart_rows_duckdb,
    normalize_rows,
    raw_table_ddl,
    run_dbt,
)
from postgres_server import PG, dbt_env, temporary_database

# The marts' columns, in order, as defined in the product's metric definitions
# (metrics.md, "MoatMetrics metric definitions (v1)"). They are a public interface.
METRICS_MD_COLUMNS: dict[str, list[str]] = {
    "client_profitability": [
        "client_id",
        "client_name",
        "month",
        "revenue",
        "recurring_revenue",
        "labor_hours",
        "billable_hours",
        "no_charge_hours",
        "labor_cost",
        "labor_cost_unknown_hours",
        "license_cost",
        "other_cost",
        "total_cost",
        "gross_profit",
        "gross_margin",
        "effective_hourly_rate",
        "overridden_rows",
    ],
    "license_utilization": [
        "client_id",
        "vendor",
        "product",
        "month",
        "seats_purchased",
        "seats_assigned",
        "seats_active",
        "seats_billed",
        "unit_cost",
        "unit_price",
        "assignment_rate",
        "utilization_rate",
        "unused_seats",
        "monthly_waste",
        "unbilled_seats",
        "monthly_leakage",
        "utilization_band",
        "recommendation",
        "term_end_date",
        "overridden_rows",
        "license_source",
        "missing_facts",
    ],
    "staff_utilization": [
        "staff_id",
        "staff_name",
        "month",
        "available_hours",
        "logged_hours",
        "billable_hours",
        "no_charge_hours",
        "utilization",
        "logged_ratio",
        "overtime_hours",
        "capacity_gap_hours",
        "band",
        "overridden_rows",
    ],
    "month_completeness": [
        "month",
        "invoice_lines",
        "time_entries",
        "license_snapshots",
        "expenses",
        "usual_time_entries",
        "reported_sources",
        "missing_sources",
        "short_sources",
        "is_complete",
    ],
    "trends": [
        "entity_type",
        "entity_key",
        "entity_name",
        "client_id",
        "staff_id",
        "vendor",
        "product",
        "metric",
        "month",
        "value",
        "previous_value",
        "change",
        "trailing_3m_average",
        "trailing_12m_average",
        "slope_6m",
        "months_in_window",
        "direction",
        "month_is_complete",
        "confidence",
        "explanation",
    ],
    "benchmarks": [
        "month",
        "metric",
        "band",
        "label",
        "value",
        "low",
        "high",
        "unit",
        "position",
        "explanation",
        "source",
        "source_url",
        "finding",
    ],
}

EXPECTED_UNIT_TESTS = 40

# Full dbt builds (a minute or more each on a busy machine): not in `make test-fast`.
pytestmark = pytest.mark.slow


def sort_rows(mart: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in key order, NULL first, independent of the database's collation."""

    def key(row: dict[str, Any]) -> tuple[tuple[bool, str], ...]:
        return tuple((row[k] is not None, str(row[k] or "")) for k in MART_KEYS[mart])

    return sorted(rows, key=key)


def assert_rows_equal(mart: str, actual: list[dict[str, Any]], expected: list[dict[str, Any]]):
    actual, expected = sort_rows(mart, actual), sort_rows(mart, expected)
    actual_keys = [tuple(r[k] for k in MART_KEYS[mart]) for r in actual]
    expected_keys = [tuple(r[k] for k in MART_KEYS[mart]) for r in expected]
    assert actual_keys == expected_keys, f"{mart}: row keys differ"
    for got, want in zip(actual, expected, strict=True):
        assert list(got) == list(want), f"{mart}: columns differ"
        differences = {
            column: (got[column], want[column]) for column in want if got[column] != want[column]
        }
        assert not differences, (
            f"{mart} {[got[k] for k in MART_KEYS[mart]]}: (actual, expected) {differences}"
        )


# ---------------------------------------------------------------------------- DuckDB


def test_build_succeeds(duckdb_build: DuckdbBuild) -> None:
    run = duckdb_build.run
    assert run.exception is None, run.exception
    assert run.success
    failed = {uid: s for uid, s in run.statuses.items() if s not in {"success", "pass", "warn"}}
    assert not failed, failed
    models = run.by_resource_type("model")
    assert {uid.split(".")[-1] for uid in models} >= set(MART_KEYS)
    assert set(models.values()) == {"success"}
    unit_tests = run.by_resource_type("unit_test")
    assert len(unit_tests) == EXPECTED_UNIT_TESTS
    assert set(unit_tests.values()) == {"pass"}
    data_tests = run.by_resource_type("test")
    assert len(data_tests) > 50
    # Only the documented warnings: staff S099 appears in time entries, not in the staff file.
    warned = sorted(uid.split(".")[2] for uid, s in data_tests.items() if s == "warn")
    assert all(name.startswith("relationships_") and "staff_id" in name for name in warned)
    assert len(warned) == 2


@pytest.mark.parametrize("mart", HAND_COMPUTED_MARTS)
def test_mart_matches_hand_computed_expectation(
    duckdb_build: DuckdbBuild, expected_marts: dict[str, list[dict[str, Any]]], mart: str
) -> None:
    assert duckdb_build.run.success
    actual = normalize_rows(mart_rows_duckdb(duckdb_build.warehouse, mart))
    assert_rows_equal(mart, actual, expected_marts[mart])


def test_expected_fixture_has_metrics_md_columns(
    expected_marts: dict[str, list[dict[str, Any]]],
) -> None:
    for mart, rows in expected_marts.items():
        assert rows
        for row in rows:
            assert list(row) == METRICS_MD_COLUMNS[mart]


def test_marts_columns_are_exactly_metrics_md_in_order(duckdb_build: DuckdbBuild) -> None:
    assert duckdb_build.run.success
    # Declared (contract) columns in the marts' yml.
    marts_yml = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/_marts__models.yml").read_text())
    declared = {
        model["name"]: [c["name"] for c in model["columns"]] for model in marts_yml["models"]
    }
    assert declared == METRICS_MD_COLUMNS
    for model in marts_yml["models"]:
        assert model["config"]["contract"]["enforced"] is True
        assert all(c.get("data_type") for c in model["columns"])
    # Built tables in schema `marts`.
    with duckdb.connect(str(duckdb_build.warehouse), read_only=True) as con:
        for mart, columns in METRICS_MD_COLUMNS.items():
            built = [
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                    [mart],
                ).fetchall()
            ]
            assert built == columns, mart
        tables = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        assert tables == set(METRICS_MD_COLUMNS)


def test_marts_rounding_and_types(duckdb_build: DuckdbBuild) -> None:
    """Money and hours are DECIMAL(18,2), rates DECIMAL(18,4), month a DATE (1st)."""
    with duckdb.connect(str(duckdb_build.warehouse), read_only=True) as con:
        types = dict(
            con.execute(
                "select table_name || '.' || column_name, data_type "
                "from information_schema.columns where table_schema = 'marts'"
            ).fetchall()
        )
        for mart in METRICS_MD_COLUMNS:
            assert types[f"{mart}.month"] == "DATE"
            days = con.execute(f"select distinct day(month) from marts.{mart}").fetchall()
            assert days == [(1,)]
    assert types["client_profitability.revenue"] == "DECIMAL(18,2)"
    assert types["client_profitability.gross_margin"] == "DECIMAL(18,4)"
    assert types["license_utilization.seats_purchased"] == "BIGINT"
    assert types["staff_utilization.utilization"] == "DECIMAL(18,4)"
    assert types["staff_utilization.band"] == "VARCHAR"


def test_dbt_parse_works_without_a_warehouse(tmp_path: Path) -> None:
    """CI prepares the manifest before any warehouse exists."""
    warehouse = tmp_path / "not-created" / "warehouse.duckdb"
    run = run_dbt(
        ["parse"], tmp_path, {"MOATMETRICS_WAREHOUSE_PATH": str(warehouse)}, reuse_parse=False
    )
    assert run.success, run.exception
    assert (run.target_path / "manifest.json").exists()
    assert not warehouse.exists()
    assert not warehouse.parent.exists()


def test_build_on_empty_raw_tables(tmp_path: Path) -> None:
    """All raw tables exist but are empty (nothing uploaded yet): build succeeds, no rows."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        for table in RAW_TABLES:
            con.execute(raw_table_ddl(table))
    run = run_dbt(
        ["build", "--target", "duckdb", "--exclude", "resource_type:unit_test"],
        tmp_path,
        {"MOATMETRICS_WAREHOUSE_PATH": str(warehouse)},
    )
    assert run.success, run.exception
    for mart in MART_KEYS:
        assert mart_rows_duckdb(warehouse, mart) == []


# ---------------------------------------------------------------------------- PostgreSQL


def test_postgres_build_matches_duckdb(
    duckdb_build: DuckdbBuild,
    expected_marts: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """The same models, data tests and unit tests run on PostgreSQL with identical marts."""
    import psycopg

    assert duckdb_build.run.success
    with temporary_database("moatmetrics_test_dbt") as dbname:
        load_raw_postgres(dbname, duckdb_build.warehouse)
        run = run_dbt(
            ["build", "--target", "postgres"],
            tmp_path,
            dbt_env(dbname),
        )
        assert run.exception is None, run.exception
        assert run.success
        assert set(run.by_resource_type("unit_test").values()) == {"pass"}
        assert len(run.by_resource_type("unit_test")) == EXPECTED_UNIT_TESTS
        assert run.statuses.keys() == duckdb_build.run.statuses.keys()
        assert run.statuses == duckdb_build.run.statuses

        with psycopg.connect(dbname=dbname, **PG) as con:
            for mart, columns in METRICS_MD_COLUMNS.items():
                cursor = con.execute(f"select * from marts.{mart}")
                assert [d.name for d in cursor.description] == columns
                pg_rows = normalize_rows(
                    [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
                )
                duck_rows = normalize_rows(mart_rows_duckdb(duckdb_build.warehouse, mart))
                assert_rows_equal(mart, pg_rows, duck_rows)
                if mart in HAND_COMPUTED_MARTS:
                    assert_rows_equal(mart, pg_rows, expected_marts[mart])


def test_not_null_columns_fails_naming_each_column_and_its_null_rows(tmp_path: Path) -> None:
    """The folded not-null test: one node per model, and its failing rows say which column."""
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw_duckdb(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE raw.clients SET client_name = NULL")
        nulled = con.execute("SELECT count(*) FROM raw.clients").fetchone()[0]
        con.execute("UPDATE raw.clients SET status = NULL WHERE client_id = 'C001'")
    run = run_dbt(
        ["build", "--select", "stg_raw__clients", "--exclude", "resource_type:unit_test"],
        tmp_path,
        {"MOATMETRICS_WAREHOUSE_PATH": str(warehouse)},
    )
    assert not run.success
    (test_id,) = [t for t in run.by_resource_type("test") if ".not_null_columns_" in t]
    assert run.statuses[test_id] == "fail"
    results = json.loads((run.target_path / "run_results.json").read_text())["results"]
    (compiled,) = [r["compiled_code"] for r in results if r["unique_id"] == test_id]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        failing = sorted(con.execute(compiled).fetchall())
    assert failing == [("client_name", nulled), ("client_status", 1)]
