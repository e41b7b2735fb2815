"""Client identity and no_charge_hours are cross-database: the same raw layer (ingested into
DuckDB by the real Ingestor, copied to a fresh PostgreSQL database by the product's
`copy_raw_to_postgres`) gives the same identities, held keys and marts on both engines, and
every dbt unit test (the name normalisation cases included) passes on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from moatmetrics.settings import Settings
from moatmetrics.warehouse.postgres import copy_raw_to_postgres
from tests.integration.dbt.dbt_test_support import run_dbt
from tests.integration.identity.test_client_identity_dbt import (
    ALIASES,
    CLIENTS,
    INVOICES,
    STAFF,
    TIME_ENTRIES,
    _ingest,
)
from tests.postgres_server import database_url, dbt_env, temporary_database

QUERIES = {
    "identities": "select client_source, client_key, client_id, resolution, time_entry_rows,"
    " invoice_line_rows, expense_rows from {p}staging.stg_raw__client_identities"
    ' order by client_source, client_key COLLATE "C"',
    "held": "select * from {p}intermediate.int_client_keys_held order by client_source",
    "clients": "select client_id, labor_hours, billable_hours, no_charge_hours, revenue"
    " from marts.client_profitability order by client_id",
    "staff": "select staff_id, logged_hours, no_charge_hours from marts.staff_utilization",
}


@pytest.fixture
def pg_database():
    with temporary_database("moatmetrics_test_identity") as name:
        yield name, database_url(name)


def _duckdb_rows(home: Settings) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as con:
        return {
            k: con.execute(q.format(p="").replace(' COLLATE "C"', "")).fetchall()
            for k, q in QUERIES.items()
        }


def _postgres_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    import psycopg

    with psycopg.connect(url) as con:
        return {k: con.execute(q.format(p="")).fetchall() for k, q in QUERIES.items()}


@pytest.mark.timeout(900)
def test_identity_and_no_charge_hours_match_on_duckdb_and_postgres(
    home: Settings, tmp_path: Path, pg_database
) -> None:
    dbname, url = pg_database
    _ingest(
        home,
        tmp_path,
        {
            "clients.csv": CLIENTS,
            "staff.csv": STAFF,
            "client_aliases.csv": ALIASES,
            "time_entries.csv": TIME_ENTRIES,
            "invoices.csv": INVOICES,
        },
    )
    with duckdb.connect(str(home.warehouse_path)) as con:
        copy_raw_to_postgres(con, url)
    duck = run_dbt(
        ["build", "--target", "duckdb", "--exclude-resource-type", "unit_test"],
        tmp_path / "dbt_duckdb",
        {"MOATMETRICS_WAREHOUSE_PATH": str(home.warehouse_path)},
    )
    assert duck.success, duck.exception
    pg = run_dbt(["build", "--target", "postgres"], tmp_path / "dbt_postgres", dbt_env(dbname))
    assert pg.success, pg.exception
    unit_tests = pg.by_resource_type("unit_test")
    assert unit_tests and set(unit_tests.values()) == {"pass"}

    on_duckdb, on_postgres = _duckdb_rows(home), _postgres_rows(url)
    assert on_postgres == on_duckdb
    # byte order: NEWCO, OURCO, acme; then qbo's Birch and Sons, Newco Ltd
    assert [r[3] for r in on_duckdb["identities"]] == [
        "held", "internal", "alias", "name_match", "held"
    ]  # fmt: skip
    assert on_duckdb["held"] and on_duckdb["clients"]
