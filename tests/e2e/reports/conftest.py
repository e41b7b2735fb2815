"""Fixtures for the report tests: real snapshots served by the API over real HTTP.

`demo_api`: the session's demo home (the small demo data through the real pipeline, shared
with other tests: tests/built_homes.py), so the reports are checked on the numbers a user
sees first. `branded_api`: the same home served with the MSP's name and logo configured
(MOATMETRICS_COMPANY_NAME / MOATMETRICS_COMPANY_LOGO, a PNG drawn here). `hostile_api`: a
hand-built warehouse whose text columns start with `=`, `+`, `-` and `@`, published with the
real `moatmetrics.snapshots.publish`. Each server is `uvicorn api.main:app` in its own process
with one key per role, as in tests/api.

In the PostgreSQL pass (`MOATMETRICS_TEST_BACKEND=postgres`, `make test`) the same reports are
read from PostgreSQL: a copy of the demo home (and the hostile warehouse) publishes its
snapshot into a new database, as a home in PostgreSQL mode publishes, and the servers read the
`snapshot_<id>` schema from there (`reports_home`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from built_homes import BuiltHome, copy_home
from postgres_server import (
    database_url,
    reader_role_as_found,
    release_pooled_connections,
    temporary_database,
)
from report_support import (
    HOSTILE_EXPLANATION,
    HOSTILE_NAME,
    HOSTILE_PRODUCT,
    HOSTILE_VENDOR,
    MSP_NAME,
    Api,
    logo_png,
    serve,
)

from moatmetrics.settings import Settings, ensure_home, get_settings
from moatmetrics.storage.configured import storage_for

POSTGRES = os.environ.get("MOATMETRICS_TEST_BACKEND", "duckdb").strip().lower() == "postgres"


@contextlib.contextmanager
def _in_postgres(settings: Settings) -> Iterator[Settings]:
    """`settings` with its snapshots (and app database) in a new PostgreSQL database, dropped
    afterwards (the read-only role left as found)."""
    with reader_role_as_found(), temporary_database("moatmetrics_test_reports") as name:
        try:
            yield dataclasses.replace(settings, warehouse_url=database_url(name))
        finally:
            release_pooled_connections()


@pytest.fixture(scope="session")
def reports_home(
    tmp_path_factory: pytest.TempPathFactory, demo_home: BuiltHome
) -> Iterator[tuple[Settings, str]]:
    """The demo home the reports are served from, and its snapshot: the session's demo home
    as it is (read only), or in the PostgreSQL pass a copy publishing into PostgreSQL."""
    if not POSTGRES:
        yield demo_home.settings, demo_home.snapshot_id
        return
    copied = copy_home(demo_home, tmp_path_factory.mktemp("reports-postgres") / "home")
    with _in_postgres(copied.settings) as settings:
        yield settings, storage_for(settings).publish().snapshot_id


@pytest.fixture(scope="session")
def demo_api(
    tmp_path_factory: pytest.TempPathFactory, reports_home: tuple[Settings, str]
) -> Iterator[Api]:
    """The demo home (read only: the server adds keys and audit entries)."""
    log = tmp_path_factory.mktemp("reports-demo") / "server.log"
    yield from serve(*reports_home, log)


@pytest.fixture(scope="session")
def branded_api(
    tmp_path_factory: pytest.TempPathFactory, reports_home: tuple[Settings, str]
) -> Iterator[Api]:
    """The demo home served with the MSP's name and logo configured."""
    root = tmp_path_factory.mktemp("reports-branded")
    env = {"MOATMETRICS_COMPANY_NAME": MSP_NAME,
           "MOATMETRICS_COMPANY_LOGO": str(logo_png(root / "logo.png"))}  # fmt: skip
    yield from serve(*reports_home, root / "server.log", env)


def _hostile_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA ingest")
        con.execute("""
            CREATE TABLE marts.client_profitability (
                client_id VARCHAR, client_name VARCHAR, month DATE, revenue DECIMAL(18, 2),
                recurring_revenue DECIMAL(18, 2), labor_hours DECIMAL(18, 2),
                billable_hours DECIMAL(18, 2), labor_cost DECIMAL(18, 2),
                labor_cost_unknown_hours DECIMAL(18, 2), license_cost DECIMAL(18, 2),
                other_cost DECIMAL(18, 2), total_cost DECIMAL(18, 2), gross_profit DECIMAL(18, 2),
                gross_margin DOUBLE, effective_hourly_rate DECIMAL(18, 2), confidence DOUBLE,
                needs_review BOOLEAN, explanation VARCHAR)""")
        con.execute(
            "INSERT INTO marts.client_profitability VALUES (?, ?, ?, 1000.00, 1000.00, 10, 10,"
            " 300.00, 0, 100.00, 0, 400.00, 600.00, 0.6, 90.00, 0.4, true, ?)",
            ["C1", HOSTILE_NAME, date(2024, 1, 1), HOSTILE_EXPLANATION],
        )
        con.execute("""
            CREATE TABLE marts.license_utilization (
                client_id VARCHAR, vendor VARCHAR, product VARCHAR, month DATE,
                seats_purchased BIGINT, seats_assigned BIGINT, seats_active BIGINT,
                seats_billed BIGINT, unit_cost DECIMAL(18, 2), unit_price DECIMAL(18, 2),
                assignment_rate DOUBLE, utilization_rate DOUBLE, unused_seats BIGINT,
                monthly_waste DECIMAL(18, 2), unbilled_seats BIGINT,
                monthly_leakage DECIMAL(18, 2), utilization_band VARCHAR, recommendation VARCHAR,
                confidence DOUBLE, needs_review BOOLEAN, explanation VARCHAR)""")
        con.execute(
            "INSERT INTO marts.license_utilization VALUES ('C1', ?, ?, ?, 10, 10, 4, 8, 10.00,"
            " 15.00, 1.0, 0.4, 6, 60.00, 2, 30.00, 'under', 'bill_client', 0.9, false, ?)",
            [HOSTILE_VENDOR, HOSTILE_PRODUCT, date(2024, 1, 1), HOSTILE_EXPLANATION],
        )
        con.execute(
            "CREATE TABLE ingest.uploads (upload_id VARCHAR, upload_seq BIGINT, sha256 VARCHAR,"
            " file_name VARCHAR, entity VARCHAR, row_count BIGINT, uploaded_at TIMESTAMPTZ,"
            " status VARCHAR)"
        )
        con.execute(
            "INSERT INTO ingest.uploads VALUES ('u1', 1, ?, 'clients.csv', 'clients', 1, now(),"
            " 'accepted')",
            ["a" * 64],
        )
    finally:
        con.close()


@pytest.fixture(scope="session")
def hostile_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("reports-hostile")
    settings = dataclasses.replace(get_settings(), home=root / "home")
    ensure_home(settings)
    _hostile_warehouse(settings.warehouse_path)
    marts = ("client_profitability", "license_utilization")
    with contextlib.ExitStack() as stack:
        if POSTGRES:
            settings = stack.enter_context(_in_postgres(settings))
        snapshot = storage_for(settings).publish(marts)
        yield from serve(settings, snapshot.snapshot_id, root / "server.log")
