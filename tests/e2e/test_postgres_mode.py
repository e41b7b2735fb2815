"""PostgreSQL mode end to end: `MOATMETRICS_WAREHOUSE_URL` switches every command.

The shared demo home (the small demo data through the pipeline on the embedded DuckDB,
tests/conftest.py) is the DuckDB side; its files go through the real `moatmetrics run` with
the warehouse URL naming a fresh PostgreSQL database (127.0.0.1:5432, as in CI; dropped
after). dbt's marts and the trust layer's evidence must then be the same in both warehouses,
every row and column (money to the cent, doubles to 12 digits); `moatmetrics serve` serves
each home and the pages must be equal; a BI login in the role `moatmetrics_reader` reads
`marts.*` in PostgreSQL and cannot write. The settings' checks of the URL are tested first
(no database needed).
"""

from __future__ import annotations

import io
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from built_homes import BuiltHome, copy_home
from cli_commands import BIN, cli_output
from postgres_server import PG, admin_connection, database_url, reader_role_as_found
from serving import free_port, wait_for_api

from moatmetrics.settings import SettingsError, get_settings, mask_password, postgres_env
from moatmetrics.storage.configured import storage_for
from moatmetrics.trust import evidence
from moatmetrics.warehouse.pg_mode import warehouse_schema
from moatmetrics.warehouse.postgres import READER_ROLE
from tests.integration.dbt.dbt_test_support import MART_KEYS

PAGES = [
    ("client_profitability", {"limit": 60, "sort": "-gross_profit", "month_from": "2024-01"}),
    ("license_utilization", {"limit": 40, "offset": 100}),
    ("staff_utilization", {"limit": 500}),
    ("client_risk", {"limit": 100}),
    ("trends", {"limit": 200, "entity_type": "portfolio"}),
    ("actions", {"limit": 100}),
    ("forecasts", {"limit": 500}),
    ("anomalies", {"limit": 500}),
    ("benchmarks", {"limit": 500}),
]


def test_warehouse_url_is_checked_and_its_password_never_shown(monkeypatch) -> None:
    monkeypatch.setenv("MOATMETRICS_WAREHOUSE_URL", "mysql://bi:s3cret@db/warehouse")
    with pytest.raises(SettingsError, match="not a PostgreSQL URL") as wrong:
        get_settings()
    assert "s3cret" not in str(wrong.value) and "bi:***@db" in str(wrong.value)
    monkeypatch.setenv("MOATMETRICS_WAREHOUSE_URL", "postgresql://bi:s3cret@db:5433/")
    with pytest.raises(SettingsError, match="names no database"):
        get_settings()
    result = subprocess.run(
        [str(BIN), "snapshots", "current"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "MOATMETRICS_WAREHOUSE_URL": "sqlite:///x.db"},
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "MOATMETRICS_WAREHOUSE_URL" in result.stderr and "postgresql://" in result.stderr

    url = "postgres://bi:p%40ss@db.internal:5433/moat"
    monkeypatch.setenv("MOATMETRICS_WAREHOUSE_URL", url)
    monkeypatch.delenv("MOATMETRICS_DATABASE_URL", raising=False)
    settings = get_settings()
    assert storage_for(settings).name == "postgres"
    assert settings.app_database_url == url  # app DB follows
    assert mask_password(url) == "postgres://bi:***@db.internal:5433/moat"
    assert postgres_env(url) == {
        "MOATMETRICS_PG_HOST": "db.internal", "MOATMETRICS_PG_PORT": "5433",
        "MOATMETRICS_PG_DBNAME": "moat", "MOATMETRICS_PG_USER": "bi",
        "MOATMETRICS_PG_PASSWORD": "p@ss",
    }  # fmt: skip
    monkeypatch.setenv("MOATMETRICS_DATABASE_URL", "sqlite:////tmp/app.db")
    assert get_settings().app_database_url == "sqlite:////tmp/app.db"


@pytest.fixture
def warehouse_database():
    """A fresh database and a BI login in the reader role; dropped after."""
    token = secrets.token_hex(4)
    name, login = f"moatmetrics_test_pgmode_{token}", f"mm_bi_{token}"
    with reader_role_as_found():
        admin = admin_connection()
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {"dbname": name, "login": login,
                   "url": database_url(name)}  # fmt: skip
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{login}"')
            admin.close()


def test_tables_round_trip_between_duckdb_and_postgres(warehouse_database: dict) -> None:
    """copy_raw_to_postgres then pull_from_postgres gives back every value: NULL and '' apart,
    quotes and newlines, exact decimals, infinities, dates; a local view is replaced."""
    import duckdb

    from moatmetrics.warehouse.postgres import copy_raw_to_postgres, pull_from_postgres

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.t (id BIGINT, name VARCHAR, amount DECIMAL(18, 2), rate DOUBLE,"
        " day DATE, flag BOOLEAN, seen TIMESTAMPTZ)"
    )
    con.execute(
        "INSERT INTO marts.t VALUES (1, '', 1.10, 'inf', '2024-01-01', true, '2024-01-01 10:00Z'),"
        " (2, NULL, NULL, NULL, NULL, NULL, NULL),"
        " (3, 'a \"quoted\", multi\nline', -0.01, 0.25, '1999-12-31', false, NULL)"
    )
    expected = con.execute("SELECT * FROM marts.t ORDER BY id").fetchall()
    copied = copy_raw_to_postgres(con, warehouse_database["url"], "marts", "warehouse_marts")
    assert [(t.name, t.rows) for t in copied] == [("t", 3)]
    con.execute("CREATE SCHEMA back")
    con.execute("CREATE VIEW back.t AS SELECT 1 AS x")  # as an earlier dbt run on DuckDB left
    pulled = pull_from_postgres(con, warehouse_database["url"], [("warehouse_marts", "t", "back")])
    assert [(t.name, t.rows) for t in pulled] == [("t", 3)]
    assert con.execute("SELECT * FROM back.t ORDER BY id").fetchall() == expected
    types = con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = 'back'"
        " ORDER BY ordinal_position"
    ).fetchall()
    assert [t[0] for t in types] == [
        "BIGINT", "VARCHAR", "DECIMAL(18,2)", "DOUBLE", "DATE", "BOOLEAN",
        "TIMESTAMP WITH TIME ZONE",
    ]  # fmt: skip


#: Console pages read in both modes (the console's own queries, not the API's).
CONSOLE_PAGES = [
    "/console", "/console/clients", "/console/staff", "/console/reviews", "/console/uploads",
    "/console/mappings", "/console/corrections", "/console/reports", "/console/insights",
    "/console/what-if?reclaim=on&bill=on&add_name=Pat&add_weekly_hours=40&add_target=0.75"
    "&add_cost=30",
]  # fmt: skip
FIGURE = re.compile(r"-?\$[\d,]+(?:\.\d+)?|-?\d+(?:\.\d+)? ?%|\b\d+(?:\.\d+)? h\b")
REPORTS = [("client-profitability", "xlsx"), ("license-savings", "xlsx")]


def _console_figures(url: str, key: str) -> dict:
    """Each console page's status and the money, percent and hour figures it shows (a
    client's or staff member's page too), and the numbers of each XLSX report."""
    from openpyxl import load_workbook

    figures: dict = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        form = http.get("/console/sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        signed_in = http.post("/console/sign-in", data={"csrf": token.group(1), "key": key})
        assert signed_in.status_code == 303, signed_in.text
        pages = list(CONSOLE_PAGES)
        clients = http.get("/console/clients").text
        staff = http.get("/console/staff").text
        pages += re.findall(r'href="(/console/clients/[^"?]+)"', clients)[:1]
        pages += re.findall(r'href="(/console/staff/[^"?]+)"', staff)[:1]
        assert len(pages) > len(CONSOLE_PAGES), pages  # a client's or a staff member's page
        for page in pages:
            response = http.get(page)
            figures[page] = (response.status_code, FIGURE.findall(response.text))
        for report, fmt in REPORTS:
            response = http.get(
                "/console/reports/download", params={"report": report, "format": fmt}
            )
            assert response.status_code == 200, (report, response.text[:500])
            book = load_workbook(io.BytesIO(response.content), read_only=True)
            figures[report] = (
                response.status_code,
                [
                    cell
                    for sheet in book.worksheets
                    for row in sheet.iter_rows(values_only=True)
                    for cell in row
                    if isinstance(cell, int | float) and not isinstance(cell, bool)
                ],
            )
    return figures


def _rows_duckdb(warehouse: Path, relation: str, keys: list[str]) -> tuple[list[str], list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        order = ", ".join(f"{c} NULLS FIRST" for c in keys)
        cursor = con.execute(f"SELECT * FROM {relation} ORDER BY {order}")
        return [d[0] for d in cursor.description], cursor.fetchall()


def _rows_postgres(url: str, relation: str, keys: list[str]) -> tuple[list[str], list]:
    import psycopg

    with psycopg.connect(url) as con:
        # Byte order of text keys, as DuckDB sorts, whatever the database's collation.
        order = ", ".join(
            (f'{c} COLLATE "C"' if c != "month" else c) + " NULLS FIRST" for c in keys
        )
        cursor = con.execute(f"SELECT * FROM {relation} ORDER BY {order}")
        return [d.name for d in cursor.description], cursor.fetchall()


def _same(duck: Any, pg: Any) -> bool:
    """Equal, of the same type; doubles (evidence averages, spreads and medians) to 12
    significant digits, as the two engines sum floating point in their own order."""
    if isinstance(duck, float) and isinstance(pg, float):
        return math.isclose(duck, pg, rel_tol=1e-12, abs_tol=1e-12)
    return duck == pg and type(duck) is type(pg)


def _assert_same_dbt_outputs(duck_warehouse: Path, url: str) -> None:
    """Every row and column of dbt's marts and of the evidence the trust layer scores them
    by, built by dbt in each warehouse from the same files."""
    relations = [(mart, f"marts.{mart}") for mart in MART_KEYS]
    relations += [(mart, evidence.table(mart)) for mart in MART_KEYS if mart in evidence.ORDER]
    for mart, relation in relations:
        layer, table = relation.split(".")
        duck_columns, duck_rows = _rows_duckdb(duck_warehouse, relation, MART_KEYS[mart])
        pg_columns, pg_rows = _rows_postgres(
            url, f"{warehouse_schema(layer)}.{table}", MART_KEYS[mart]
        )
        assert pg_columns == duck_columns, relation
        assert len(pg_rows) == len(duck_rows) > 0, relation
        for duck_row, pg_row in zip(duck_rows, pg_rows, strict=True):
            differences = {
                column: (d, p)
                for column, d, p in zip(duck_columns, duck_row, pg_row, strict=True)
                if not _same(d, p)
            }
            assert not differences, (relation, duck_row[: len(MART_KEYS[mart])], differences)


def _serve(home: Path, env: dict) -> dict:
    """`moatmetrics serve` on a home; the API's answers for PAGES, the catalog and the current
    id, and the console's figures."""
    key = cli_output(env, "keys", "create", "--name", "e2e-viewer", "--role", "viewer").strip()
    analyst = cli_output(
        env, "keys", "create", "--name", "e2e-analyst", "--role", "analyst"
    ).strip()
    port = free_port()
    server = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_api(port, server)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"Authorization": f"Bearer {key}"}) as http:  # fmt: skip
            answers = {"catalog": http.get("/api/v1/marts").json()}
            for mart, params in PAGES:
                answers[mart] = http.get(f"/api/v1/marts/{mart}", params=params).json()
                csv = http.get(f"/api/v1/marts/{mart}", params={**params, "format": "csv"})
                answers[f"{mart}.csv"] = csv.text
            answers["current"] = http.get("/api/v1/snapshots/current").json()
        answers["console"] = _console_figures(f"http://127.0.0.1:{port}", analyst)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return answers


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_postgres_mode_serves_what_duckdb_mode_serves(
    tmp_path: Path, warehouse_database: dict, demo_home: BuiltHome
) -> None:
    import psycopg

    base = {k: v for k, v in os.environ.items() if not k.startswith("MOATMETRICS_")}
    duck_home = copy_home(demo_home, tmp_path / "duckdb").settings.home
    pg_home = tmp_path / "postgres"
    duck = _serve(duck_home, {**base, "MOATMETRICS_HOME": str(duck_home)})
    pg_env = {**base, "MOATMETRICS_HOME": str(pg_home),
              "MOATMETRICS_WAREHOUSE_URL": warehouse_database["url"]}  # fmt: skip
    # A schema an earlier release wrote and nothing reads: the run drops it.
    with psycopg.connect(warehouse_database["url"], autocommit=True) as old:
        old.execute("CREATE SCHEMA warehouse_trust")
        old.execute("CREATE TABLE warehouse_trust.client_profitability_scores (x int)")
    (pg_home / "landing").mkdir(parents=True)
    for path in demo_home.files.glob("*.csv"):
        shutil.copy(path, pg_home / "landing" / path.name)
    assert "published snapshot" in cli_output(pg_env, "run")
    pg = _serve(pg_home, pg_env)
    with psycopg.connect(warehouse_database["url"]) as warehouse:
        schemas = {
            name
            for (name,) in warehouse.execute(
                "SELECT schema_name FROM information_schema.schemata"
                " WHERE schema_name LIKE 'warehouse%'"
            ).fetchall()
        }
        evidence_rows = warehouse.execute(
            "SELECT count(*) FROM warehouse_evidence.client_profitability_evidence"
        ).fetchone()[0]
    assert schemas == {
        "warehouse_raw", "warehouse_staging", "warehouse_intermediate", "warehouse_marts",
        "warehouse_evidence", "warehouse_reference",
    }  # fmt: skip

    # dbt built the trust layer's evidence in PostgreSQL, a row per mart row, and it and the
    # marts are DuckDB's to the last row.
    assert evidence_rows == pg["current"]["row_counts"]["client_profitability"]
    _assert_same_dbt_outputs(duck_home / "warehouse.duckdb", warehouse_database["url"])
    for mart, _ in PAGES:
        assert pg[mart]["total"] == duck[mart]["total"] > 0, mart
        assert pg[mart]["rows"] == duck[mart]["rows"], mart
        assert pg[f"{mart}.csv"] == duck[f"{mart}.csv"], mart

    def catalog(answers: dict) -> list[dict]:  # each mart names its snapshot: ids differ
        marts = answers["catalog"]["marts"]
        return [{k: v for k, v in m.items() if k != "snapshot_id"} for m in marts]

    assert catalog(pg) == catalog(duck)  # same columns, SQL type names and row counts
    # The console's own queries and the reports read PostgreSQL snapshots the same way.
    for page, (status, figures) in pg["console"].items():
        assert status == 200, page
        assert figures == duck["console"][page][1], page
    for page in ("/console", "/console/clients", "/console/staff", *dict(REPORTS)):
        assert pg["console"][page][1], page  # figures to compare, not two empty pages
    assert pg["current"]["row_counts"] == duck["current"]["row_counts"]
    pg_id = pg["current"]["snapshot_id"]
    assert pg["client_profitability"]["snapshot_id"] == pg_id

    # PostgreSQL mode keeps no snapshot files and no SQLite app database.
    assert not list((pg_home / "snapshots").glob("*.duckdb")) and not (pg_home / "app.db").exists()
    assert "PostgreSQL schema snapshot_" in cli_output(pg_env, "snapshots", "current")
    assert "valid" in cli_output(pg_env, "audit", "verify").lower()

    admin = admin_connection()
    try:
        admin.execute(f'CREATE ROLE "{warehouse_database["login"]}" LOGIN IN ROLE {READER_ROLE}')
    finally:
        admin.close()
    with psycopg.connect(dbname=warehouse_database["dbname"], autocommit=True,
                         **{**PG, "user": warehouse_database["login"]}) as bi:  # fmt: skip
        rows = bi.execute("SELECT count(*) FROM marts.client_profitability").fetchone()[0]
        assert rows == pg["current"]["row_counts"]["client_profitability"]
        current = bi.execute("SELECT snapshot_id FROM marts.current_snapshot").fetchone()
        assert current == (pg_id,)
        for statement in (
            "DELETE FROM marts.client_profitability",
            "UPDATE moatmetrics.snapshots SET is_current = false",
            "SELECT count(*) FROM warehouse_marts.client_profitability",  # not published
            "SELECT count(*) FROM audit_log",  # the app database is not the reader's
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(statement)


def test_unreachable_warehouse_keeps_the_api_alive_and_answers_503(tmp_path: Path) -> None:
    """The warehouse database goes away: /health stays 200 (null snapshot), marts are 503."""
    home = tmp_path / "home"
    port, dead_port = free_port(), free_port()  # nothing listens on dead_port
    env = {
        **os.environ,
        "MOATMETRICS_HOME": str(home),
        "MOATMETRICS_WAREHOUSE_URL": f"postgresql://postgres@127.0.0.1:{dead_port}/gone",
        "MOATMETRICS_DATABASE_URL": f"sqlite:///{home / 'app.db'}",
        "MOATMETRICS_RUN_ON_UPLOAD": "0",
    }
    key = subprocess.run(
        [sys.executable, "-m", "moatmetrics.cli", "keys", "create", "--name", "t", "--role",
         "viewer"], env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "moatmetrics.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_api(port, server)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
        assert health.status_code == 200
        assert health.json()["snapshot_id"] is None
        page = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/marts/client_profitability",
            headers={"Authorization": f"Bearer {key}"}, timeout=30,
        )  # fmt: skip
        assert page.status_code == 503, page.text
        assert page.headers["content-type"].startswith("application/problem+json")
    finally:
        server.terminate()
        server.wait(timeout=30)
