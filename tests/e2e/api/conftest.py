"""Fixtures for the API tests: fake warehouses, real publishes, and uvicorn over real HTTP.

The fake warehouse has the shape the pipeline leaves behind (`marts.*` and `ingest.uploads`),
and snapshots are made by `moatmetrics.snapshots.publish`, so the API is tested against the
same files it will read in production. Each server runs in its own process, as in production:
the test process is the only writer, the server only ever opens snapshots read-only.

Everything lives in this conftest (no helper module) so the tests import nothing from the
test folder and work under any pytest import mode.

Back ends: `MOATMETRICS_TEST_BACKEND=postgres` runs every API test in PostgreSQL mode. Each
home then gets a fresh PostgreSQL database (127.0.0.1:5432, `MOATMETRICS_PG_*`), named in
`MOATMETRICS_WAREHOUSE_URL` for the publishes, the servers and the app database, and dropped
at the end of the session; tests reach a home's settings and environment through the `backend`
fixture, never by building Settings themselves. `MOATMETRICS_TEST_BACKEND=encrypted` keeps
DuckDB files but encrypts the warehouses, snapshots and upload archives at rest under a key made
for the session: `make test` runs the role, audit and mart tests that way too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
from postgres_server import (
    admin_connection,
    database_url,
    reader_role_as_found,
    release_pooled_connections,
)
from serving import start_api, stop_api

from moatmetrics.appdb.audit import Actor
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.keys import ROLES, create_key
from moatmetrics.at_rest.duckdb_files import DUCKDB_CRYPTO_ENV, UNSAFE_CRYPTO, connect_duckdb
from moatmetrics.at_rest.encryption import KEY_FILE_ENV, write_key_file
from moatmetrics.insights.actions import ACTION_COLUMNS
from moatmetrics.insights.anomalies import ANOMALY_COLUMNS
from moatmetrics.insights.forecasts import FORECAST_COLUMNS
from moatmetrics.marts import INSIGHT_ORDERS
from moatmetrics.seam.base import Snapshot
from moatmetrics.settings import Settings, get_settings
from moatmetrics.storage.configured import storage_for

MONTHS = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
# Test servers: no background pipeline runs, and a rate limit no functional test reaches.
DEFAULT_SERVER_ENV = {
    "MOATMETRICS_RUN_ON_UPLOAD": "0",
    "MOATMETRICS_RATE_LIMIT_PER_MINUTE": "1000000",
    "MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE": "1000000",
}
CLIENTS = [("C1", "Acme"), ("C2", "Globex"), ("C3", "Initech")]

_CLIENT_PROFITABILITY = """
CREATE TABLE marts.client_profitability (
    client_id VARCHAR, client_name VARCHAR, month DATE,
    revenue DECIMAL(18, 2), recurring_revenue DECIMAL(18, 2),
    labor_hours DECIMAL(18, 4), billable_hours DECIMAL(18, 4), labor_cost DECIMAL(18, 2),
    labor_cost_unknown_hours DECIMAL(18, 4), license_cost DECIMAL(18, 2),
    other_cost DECIMAL(18, 2), total_cost DECIMAL(18, 2), gross_profit DECIMAL(18, 2),
    gross_margin DOUBLE, effective_hourly_rate DECIMAL(18, 2),
    confidence DOUBLE, needs_review BOOLEAN, explanation VARCHAR,
    internal_note VARCHAR
)"""
_LICENSE_UTILIZATION = """
CREATE TABLE marts.license_utilization (
    client_id VARCHAR, vendor VARCHAR, product VARCHAR, month DATE,
    seats_purchased BIGINT, seats_assigned BIGINT, seats_active BIGINT, seats_billed BIGINT,
    unit_cost DECIMAL(18, 2), unit_price DECIMAL(18, 2),
    assignment_rate DOUBLE, utilization_rate DOUBLE, unused_seats BIGINT,
    monthly_waste DECIMAL(18, 2), unbilled_seats BIGINT, monthly_leakage DECIMAL(18, 2),
    utilization_band VARCHAR, recommendation VARCHAR,
    confidence DOUBLE, needs_review BOOLEAN, explanation VARCHAR
)"""
# Without confidence/needs_review/explanation: the state before the Python assets exist.
_STAFF_UTILIZATION = """
CREATE TABLE marts.staff_utilization (
    staff_id VARCHAR, staff_name VARCHAR, month DATE,
    available_hours DECIMAL(18, 2), logged_hours DECIMAL(18, 2), billable_hours DECIMAL(18, 2),
    utilization DOUBLE, logged_ratio DOUBLE, overtime_hours DECIMAL(18, 2),
    capacity_gap_hours DECIMAL(18, 2), band VARCHAR
)"""
_TRENDS = """
CREATE TABLE marts.trends (
    entity_type VARCHAR, entity_key VARCHAR, entity_name VARCHAR, client_id VARCHAR,
    staff_id VARCHAR, vendor VARCHAR, product VARCHAR, metric VARCHAR, month DATE,
    value DECIMAL(18, 4), previous_value DECIMAL(18, 4), change DECIMAL(18, 4),
    trailing_3m_average DECIMAL(18, 4), trailing_12m_average DECIMAL(18, 4),
    slope_6m DECIMAL(18, 4), months_in_window INTEGER, direction VARCHAR,
    month_is_complete BOOLEAN, confidence DECIMAL(18, 4), explanation VARCHAR
)"""
# Written by the insights asset, not dbt: published from insights.actions (its own columns).
_ACTIONS = "CREATE TABLE insights.actions ({})".format(
    ", ".join(f"{name} {sql_type}" for name, sql_type in ACTION_COLUMNS.items())
)
# Written by the forecasts asset: its own column list, so the fixture cannot drift from it.
_FORECASTS = "CREATE TABLE insights.forecasts ({})".format(
    ", ".join(f"{name} {sql_type}" for name, sql_type in FORECAST_COLUMNS.items())
)
# Written by the anomalies asset: its own column list too.
_ANOMALIES = "CREATE TABLE insights.anomalies ({})".format(
    ", ".join(f"{name} {sql_type}" for name, sql_type in ANOMALY_COLUMNS.items())
)
_UPLOADS = """
CREATE TABLE ingest.uploads (
    upload_id VARCHAR, upload_seq BIGINT, sha256 VARCHAR, file_name VARCHAR, entity VARCHAR,
    row_count BIGINT, uploaded_at TIMESTAMPTZ, status VARCHAR
)"""


def revenue(client_index: int, month_index: int, generation: int) -> Decimal:
    """Revenue of a fake row; encodes the generation so torn reads would show."""
    return Decimal(1000 * (client_index + 1) + 100 * month_index + generation) + Decimal("0.50")


def _client_rows(generation: int) -> list[tuple]:
    rows = []
    for ci, (client_id, name) in enumerate(CLIENTS):
        months = MONTHS if client_id != "C3" else MONTHS[1:2]
        for mi, month in enumerate(months):
            rev = revenue(ci, mi, generation)
            if client_id == "C3":
                rev = Decimal("0.00")  # gross_margin null by definition
            labor_hours = Decimal("7.5") + mi
            cost = Decimal("400.25") + ci
            margin = None if rev <= 0 else float((rev - cost) / rev)
            if client_id == "C2" and mi == 2:
                margin = float("inf")  # a careless division: must be served as null
            rows.append(
                (client_id, name, month, rev, rev / 2, labor_hours, labor_hours - 1,
                 Decimal("300.00"), Decimal("0"), Decimal("100.25") + ci, Decimal("0"),
                 cost, rev - cost, margin, Decimal("95.40"), 0.5 + 0.1 * ci, ci == 0,
                 f"generation {generation}", "not for the API")
            )  # fmt: skip
    return rows


def _license_rows(generation: int) -> list[tuple]:
    base = [
        ("C1", "Microsoft", "M365 E3", MONTHS[0], 10, 9, 8, 9),
        ("C1", "Microsoft", "M365 E3", MONTHS[1], 10, 10, 9, 10),
        ("C1", "Microsoft", "Defender", MONTHS[1], 5, 6, 2, 5),
        ("C2", "Google", "Workspace", MONTHS[0], 20, 15, 15, None),
        ("C2", None, "Backup", MONTHS[1], 4, 4, 4, 4),
    ]
    rows = []
    for client_id, vendor, product, month, bought, assigned, active, billed in base:
        unused = max(bought - active, 0)
        unbilled = None if billed is None else max(assigned - billed, 0)
        rows.append(
            (client_id, vendor, product, month, bought, assigned, active, billed,
             Decimal("12.10"), Decimal("15.00"), assigned / bought, active / bought, unused,
             Decimal("12.10") * unused, unbilled,
             None if unbilled is None else Decimal("15.00") * unbilled,
             "optimal" if active / bought >= 0.8 else "critical", "ok", 0.9, False,
             f"generation {generation}")
        )  # fmt: skip
    return rows


def _trend_rows(generation: int) -> list[tuple]:
    """Revenue series of the clients, the staff's hours and the portfolio's revenue: enough
    for the scoping tests (a staff or portfolio row names no client and spans them all)."""
    series: list[tuple[str, str, str, str | None, str | None, str, list[Decimal]]] = []
    for ci, (client_id, name) in enumerate(CLIENTS):
        values = [revenue(ci, mi, generation) for mi in range(len(MONTHS))]
        series.append(("client", client_id, name, client_id, None, "revenue", values))
    series.append(("staff", "S1", "Alice", None, "S1", "labor_hours", [Decimal(150)] * 3))
    series.append(("staff", "S2", "Bob", None, "S2", "labor_hours", [Decimal(100)] * 3))
    totals = [sum(s[6][mi] for s in series[: len(CLIENTS)]) for mi in range(len(MONTHS))]
    series.append(("portfolio", "portfolio", "the portfolio", None, None, "revenue", totals))
    rows = []
    for entity_type, key, name, client_id, staff_id, metric, values in series:
        for mi, (month, value) in enumerate(zip(MONTHS, values, strict=True)):
            previous = values[mi - 1] if mi else None
            rows.append(
                (entity_type, key, name, client_id, staff_id, None, None, metric, month,
                 value, previous, None if previous is None else value - previous,
                 value, value, None, mi + 1, None, True, Decimal(mi + 1) / 6,
                 f"{metric} of {name} in month {mi + 1}: not enough history for a trend.")
            )  # fmt: skip
    return rows


def _action_rows(generation: int) -> list[tuple]:
    month = MONTHS[1]
    return [
        (1, "reprice_client", "C1", "Acme", None, None, None, None, month,
         Decimal("900.00") + generation, 0.9,
         "Reprice Acme: at $4,100 a month the margin would reach the target 40%.",
         "client_profitability"),
        (2, "reclaim_seats", "C1", "Acme", "Microsoft", "Defender", None, None, month,
         Decimal("36.30"), 0.9,
         "Reclaim 3 unused seats of Defender (Microsoft) at Acme: $36 a month.",
         "license_utilization"),
        (3, "follow_up_client", "C2", "Globex", None, None, None, None, month, Decimal("20.00"),
         0.6, "Follow up Globex: 50% chance of leaving within three months.", "client_risk"),
        (4, "rebalance_technician", None, None, None, None, "S1", "Alice", month,
         Decimal("12.50"), 0.8, "Rebalance Alice: 10.0 h over; moving them saves $13 a month.",
         "staff_utilization"),
    ]  # fmt: skip


def _forecast_rows(generation: int) -> list[tuple]:
    origin, (oct_, nov) = MONTHS[1], (MONTHS[2], date(2024, 4, 1))
    return [
        ("client", "C1", "C1", None, "Acme", "labor_hours", "Labour hours", "hours", origin,
         oct_, 1, "forecast", Decimal("42.00") + generation, Decimal("30.00"),
         Decimal("54.00"), Decimal("40.00"), 12, "median per working day over 12 months", 15,
         Decimal("0.8100"), 0.85, "Labour hours of Acme in March 2024: 43 h."),
        ("client", "C2", "C2", None, "Globex", "revenue", "Revenue", "money", origin, oct_, 1,
         "too_little_history", None, None, None, Decimal("900.00"), 4,
         "median over 6 months", 0, None, 0.0,
         "Revenue of Globex: not forecast, 4 months with a value in the last 6, 6 needed."),
        ("team", "team", None, None, "Team", "capacity_gap", "Spare capacity", "hours", origin,
         nov, 2, "forecast", Decimal("-46.00"), None, None, None, None,
         "capacity less client work", 0, None, 0.8,
         "At this trend, client work exceeds the team's client-work capacity by 46 h."),
    ]  # fmt: skip


def _anomaly_rows(generation: int) -> list[tuple]:
    return [
        ("client", "C1", "C1", None, None, None, "Acme", "hours_spike", "labor_hours",
         "Labour hours", "hours", MONTHS[1], Decimal("92.00") + generation, Decimal("35.00"),
         Decimal("30.00"), Decimal("40.00"), 12, Decimal("9.50"), "medium", 0.95,
         "project 61 h over 3 tickets (usually 0 h)",
         "Labour hours for Acme rose to 93 h in February 2024, against a usual 30–40 h: "
         "project 61 h over 3 tickets (usually 0 h).", "open"),
        ("staff", "S1", None, "S1", None, None, "Alice", "staff_hours_spike", "logged_ratio",
         "Share of available hours logged", "ratio", MONTHS[1], Decimal("1.45"),
         Decimal("0.95"), Decimal("0.92"), Decimal("0.98"), 12, Decimal("13.20"), "high", 0.9,
         "internal 70 h (usually 10 h)",
         "Share of available hours logged for Alice rose to 145% in February 2024, against a "
         "usual 92–98%: internal 70 h (usually 10 h).", "not_required"),
    ]  # fmt: skip


def _staff_rows(generation: int) -> list[tuple]:
    return [
        ("S1", "Alice", MONTHS[0], Decimal("184.00"), Decimal("150.00"), Decimal("120.00"),
         120 / 184, 150 / 184, Decimal("0.00"), Decimal("18.00"), "near"),
        ("S1", "Alice", MONTHS[1], Decimal("160.00"), Decimal("170.00"), Decimal("140.00"),
         140 / 160, 170 / 160, Decimal("10.00"), Decimal("-20.00"), "on_target"),
        ("S2", "Bob", MONTHS[0], Decimal("184.00"), Decimal("100.00"), Decimal("80.00"),
         80 / 184, 100 / 184, Decimal("0.00"), Decimal("58.00"), "under"),
        ("S9", None, MONTHS[1], None, Decimal(generation), Decimal("1.00"),
         None, None, None, None, None),
    ]  # fmt: skip


def build_warehouse(path: Path, generation: int = 1, settings: Settings | None = None) -> None:
    """Write a warehouse with the marts and uploads a successful pipeline run leaves (under the
    home's at-rest key when `settings` has one)."""
    path.unlink(missing_ok=True)
    con = connect_duckdb(path, settings) if settings else duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA ingest")
        con.execute("CREATE SCHEMA insights")
        for ddl in (
            _CLIENT_PROFITABILITY,
            _LICENSE_UTILIZATION,
            _STAFF_UTILIZATION,
            _TRENDS,
            _ACTIONS,
            _FORECASTS,
            _ANOMALIES,
            _UPLOADS,
        ):
            con.execute(ddl)
        for table, rows in (
            ("client_profitability", _client_rows(generation)),
            ("license_utilization", _license_rows(generation)),
            ("staff_utilization", _staff_rows(generation)),
            ("trends", _trend_rows(generation)),
            ("actions", _action_rows(generation)),
            ("forecasts", _forecast_rows(generation)),
            ("anomalies", _anomaly_rows(generation)),
        ):
            marks = ", ".join("?" for _ in rows[0])
            schema = "insights" if table in INSIGHT_ORDERS else "marts"
            con.executemany(f"INSERT INTO {schema}.{table} VALUES ({marks})", rows)
        con.executemany(
            "INSERT INTO ingest.uploads VALUES (?, ?, ?, ?, ?, ?, now(), ?)",
            [
                ("u0001", 1, "a" * 64, "clients.csv", "clients", 3, "accepted"),
                ("u0002", 2, "b" * 64, "bad.csv", "invoices", 9, "rejected"),
                (f"u1{generation:03d}", 3, "c" * 64, "invoices.csv", "invoices", 7, "accepted"),
            ],
        )
    finally:
        con.close()


BACKEND = os.environ.get("MOATMETRICS_TEST_BACKEND", "duckdb").strip().lower()
if BACKEND not in ("duckdb", "postgres", "encrypted"):
    raise ValueError(
        f"MOATMETRICS_TEST_BACKEND={BACKEND!r}: use duckdb (default), postgres or encrypted"
    )


class Backend:
    """Where a test home keeps its snapshots: files (duckdb), files encrypted at rest under one
    key per session (encrypted), or a PostgreSQL database each (postgres)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._urls: dict[Path, str] = {}
        self._admin = None
        self._cleanup = contextlib.ExitStack()
        self._key_file: Path | None = None

    @property
    def postgres(self) -> bool:
        return self.name == "postgres"

    @property
    def key_file(self) -> Path | None:
        """The at-rest key of the encrypted backend, made on first use."""
        if self.name != "encrypted":
            return None
        if self._key_file is None:
            self._key_file = Path(tempfile.mkdtemp(prefix="moatmetrics-test-key-")) / "key"
            write_key_file(self._key_file)
        return self._key_file

    def url(self, home: Path) -> str | None:
        """The home's warehouse URL: a database created on first use (postgres), else None."""
        if not self.postgres:
            return None
        home = home.resolve()
        if home not in self._urls:
            if self._admin is None:
                self._cleanup.enter_context(reader_role_as_found())
                self._admin = admin_connection()
            name = f"moatmetrics_test_api_{secrets.token_hex(5)}"
            self._admin.execute(f'CREATE DATABASE "{name}"')
            self._urls[home] = database_url(name)
        return self._urls[home]

    def settings(self, home: Path, **changes) -> Settings:
        if self.key_file is not None:
            changes = {
                "encryption_key_file": self.key_file,
                "duckdb_crypto": UNSAFE_CRYPTO,
            } | changes
        return dataclasses.replace(
            get_settings(), home=home, warehouse_url=self.url(home), **changes
        )

    def env(self, home: Path) -> dict[str, str]:
        """Environment of a process (server, CLI) working on the home."""
        url = self.url(home)
        env = {"MOATMETRICS_HOME": str(home)} | ({"MOATMETRICS_WAREHOUSE_URL": url} if url else {})
        if self.key_file is not None:  # DuckDB's httpfs is not installable offline: see
            env |= {  # moatmetrics.at_rest.duckdb_files
                KEY_FILE_ENV: str(self.key_file),
                DUCKDB_CRYPTO_ENV: UNSAFE_CRYPTO,
            }
        return env

    def drop_all(self) -> None:
        if self._admin is None:
            return
        release_pooled_connections()
        for url in self._urls.values():
            self._admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        self._admin.close()
        self._cleanup.close()  # the reader role the publishes created: dropped if it was new


_BACKEND = Backend(BACKEND)


@pytest.fixture(scope="session", autouse=True)
def backend() -> Iterator[Backend]:
    """`backend.settings(home)`, `backend.env(home)`; PostgreSQL databases dropped at the end."""
    yield _BACKEND
    _BACKEND.drop_all()


def settings_for(home: Path) -> Settings:
    return _BACKEND.settings(home)


def _publish_generation(
    home: Path, generation: int, before_publish: Callable[[Path], None] | None = None
) -> Snapshot:
    """Rebuild the fake warehouse for a generation and publish it with the real code."""
    settings = settings_for(home)
    home.mkdir(parents=True, exist_ok=True)
    build_warehouse(settings.warehouse_path, generation, settings)
    if before_publish:
        before_publish(settings.warehouse_path)
    return storage_for(settings).publish()


@pytest.fixture(scope="session")
def publish_generation(backend: Backend) -> Callable[..., Snapshot]:
    """`publish_generation(home, generation, before_publish=None)` -> the new Snapshot."""
    return _publish_generation


class ApiServer:
    """`uvicorn api.main:app` in a child process, bound to 127.0.0.1 on a free port.

    Before it starts, one API key per role is created in its home (`keys[role]`), the way an
    admin would with `moatmetrics keys create`; `client(role)` sends that role's key.
    """

    def __init__(self, home: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.log_path = log_path
        self.env = {**DEFAULT_SERVER_ENV, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.keys: dict[str, str] = {}

    def create_keys(self) -> None:
        settings = settings_for(self.home)
        with session_scope(settings, write=True) as session:
            for role in ROLES:
                name = f"test-{role}-{secrets.token_hex(3)}"
                self.keys[role] = create_key(session, Actor("tests"), name, role)[1]

    def start(self, attempts: int = 3) -> ApiServer:
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.keys:
            self.create_keys()
        env = {**os.environ, **_BACKEND.env(self.home), "DO_NOT_TRACK": "1", **self.env}
        self.process, self.url = start_api(env, self.log_path, attempts)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_api(self.process)

    def headers(self, role: str | None = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"} if role else {}

    def client(self, role: str | None = "viewer") -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, headers=self.headers(role))


@pytest.fixture(scope="session")
def start_server(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[ServerFactory]:
    """Factory: `start(home, **env)` starts a server for a home. Servers started by a test
    stop when it ends (`_stop_servers_of_each_test`), those of a module's fixtures when the
    module ends (`_stop_servers_of_each_module`), the session's (`for_session`) at the end."""
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.stop_from(0, sessions_too=True)


class ServerFactory:
    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self.servers: list[ApiServer] = []
        self._for_session: set[int] = set()

    def __call__(self, home: Path, **env: str) -> ApiServer:
        server = ApiServer(home, self._tmp.mktemp("uvicorn-log") / "server.log", env)
        self.servers.append(server)
        return server.start()

    def for_session(self, home: Path, **env: str) -> ApiServer:
        """A server of a session fixture: it outlives the module that first asks for it."""
        server = self(home, **env)
        self._for_session.add(id(server))
        return server

    def stop_from(self, index: int, *, sessions_too: bool = False) -> None:
        kept = []
        for server in self.servers[index:]:
            if id(server) in self._for_session and not sessions_too:
                kept.append(server)
            else:
                server.stop()
        self.servers[index:] = kept


@pytest.fixture(scope="module", autouse=True)
def _stop_servers_of_each_module(start_server: ServerFactory) -> Iterator[None]:
    """A module's servers stop, and this process's pooled connections close, when it ends.

    In PostgreSQL mode every home is a database, and each server and each engine of this
    process keeps a few pooled connections to it. Kept to the end of the session, they added
    up, with two pytest workers, past PostgreSQL's 100 connections ("too many clients").
    """
    started_before = len(start_server.servers)
    yield
    start_server.stop_from(started_before)
    release_pooled_connections()


@pytest.fixture(autouse=True)
def _stop_servers_of_each_test(start_server: ServerFactory) -> Iterator[None]:
    """Servers a test (or its function-scoped fixtures) started stop when it ends, so idle
    servers do not pile up (in PostgreSQL mode each holds pooled database connections).
    Module- and session-scoped fixtures are set up before this one, so theirs stay."""
    started_before = len(start_server.servers)
    yield
    start_server.stop_from(started_before)


@pytest.fixture(scope="session")
def published(
    tmp_path_factory: pytest.TempPathFactory, start_server: ServerFactory
) -> tuple[ApiServer, Snapshot]:
    """A server whose home has one published snapshot (generation 1). Tests must not publish."""
    home = tmp_path_factory.mktemp("home-published")
    snapshot = _publish_generation(home, 1)
    return start_server.for_session(home), snapshot


@pytest.fixture(scope="session")
def empty_server(
    tmp_path_factory: pytest.TempPathFactory, start_server: ServerFactory
) -> ApiServer:
    """A server whose home has never seen a publish."""
    return start_server.for_session(tmp_path_factory.mktemp("home-empty"))


@pytest.fixture()
def client(published: tuple[ApiServer, Snapshot]) -> Iterator[httpx.Client]:
    with published[0].client() as http:
        yield http


@pytest.fixture()
def snapshot_id(published: tuple[ApiServer, Snapshot]) -> str:
    return published[1].snapshot_id
