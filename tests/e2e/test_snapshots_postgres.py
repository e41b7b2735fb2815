"""Published snapshots copied into PostgreSQL for BI tools: a schema per snapshot, a stable
`marts` schema of views on the current one, and a read-only role.

Real components: snapshots written by `moatmetrics.snapshots.publish` from a small warehouse,
the PostgreSQL server of the machine (127.0.0.1:5432, as in CI), a BI login that is granted the
reader role, and the `moatmetrics snapshots to-postgres` command.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest
from checkout import REPO_ROOT
from postgres_server import PG, admin_connection, database_url, reader_role_as_found
from snapshot_warehouse import MARTS, small_warehouse

from moatmetrics.settings import Settings
from moatmetrics.snapshots import publish
from moatmetrics.warehouse.postgres import (
    READER_ROLE,
    publish_snapshot_to_postgres,
    snapshot_schema,
)


@pytest.fixture
def bi_database():
    """A fresh database, a test reader role and a BI login granted it; all dropped after
    (`moatmetrics_reader`, which the CLI test's publish creates, left as found)."""
    token = secrets.token_hex(4)
    name, role, login = f"moatmetrics_test_bi_{token}", f"mm_reader_{token}", f"mm_bi_{token}"
    with reader_role_as_found():
        admin = admin_connection()
        admin.execute(f'CREATE DATABASE "{name}"')
        admin.execute(f'CREATE ROLE "{role}" NOLOGIN')
        admin.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{role}"')
        try:
            yield {"dbname": name, "role": role, "login": login,
                   "url": database_url(name)}  # fmt: skip
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{login}"')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')
            admin.close()


def _snapshot_rows(path, mart: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{mart} ORDER BY client_id NULLS LAST"
                           if mart == "client_profitability"
                           else f"SELECT * FROM marts.{mart}").fetchall()  # fmt: skip


def _as_bi(db: dict):
    import psycopg

    return psycopg.connect(dbname=db["dbname"], autocommit=True, **{**PG, "user": db["login"]})


def test_snapshots_in_postgres_switch_atomically_and_are_read_only(
    home: Settings, bi_database: dict
) -> None:
    import psycopg

    small_warehouse(home, 1)
    first = publish(home, MARTS)
    done = publish_snapshot_to_postgres(
        first.path, first.snapshot_id, bi_database["url"], reader_role=bi_database["role"]
    )
    assert done.schema == snapshot_schema(first.snapshot_id)
    assert done.row_counts == {"client_profitability": 3, "staff_utilization": 1}

    cp_sql = "SELECT * FROM marts.client_profitability ORDER BY client_id NULLS LAST"
    with _as_bi(bi_database) as bi:
        assert bi.execute(cp_sql).fetchall() == _snapshot_rows(first.path, "client_profitability")
        current = bi.execute("SELECT snapshot_id FROM marts.current_snapshot").fetchone()
        assert current == (first.snapshot_id,)
        catalog = bi.execute(
            "SELECT snapshot_id, snapshot_schema, upload_ids FROM moatmetrics.snapshots"
            " WHERE is_current"
        ).fetchall()
        assert catalog == [(first.snapshot_id, done.schema, '["u1"]')]
        # meta travels along, under the snapshot's schema
        meta = bi.execute(f"SELECT snapshot_id FROM {done.schema}.meta_snapshot").fetchone()
        assert meta == (first.snapshot_id,)
        for statement in (
            "INSERT INTO marts.staff_utilization VALUES ('S2', NULL, 1, 'x')",
            f"DELETE FROM {done.schema}.client_profitability",
            f"CREATE TABLE {done.schema}.mine (x int)",
            "CREATE TABLE marts.mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(statement)

    small_warehouse(home, 2)
    second = publish(home, MARTS)
    done2 = publish_snapshot_to_postgres(
        second.path, second.snapshot_id, bi_database["url"], reader_role=bi_database["role"]
    )
    with _as_bi(bi_database) as bi:
        assert bi.execute(cp_sql).fetchall() == _snapshot_rows(second.path, "client_profitability")
        assert bi.execute("SELECT logged_hours FROM marts.staff_utilization").fetchone() == (
            Decimal("2.00"),
        )
        # the earlier snapshot stays as it was
        old = bi.execute(f"SELECT logged_hours FROM {done.schema}.staff_utilization").fetchone()
        assert old == (Decimal("1.00"),) and done2.schema != done.schema


def test_cli_copies_the_current_snapshot(home: Settings, bi_database: dict) -> None:
    import psycopg

    small_warehouse(home, 3)
    snapshot = publish(home, MARTS)
    done = subprocess.run(
        [sys.executable, "-m", "moatmetrics.cli", "snapshots", "to-postgres",
         "--url", bi_database["url"]],
        cwd=REPO_ROOT, env={**os.environ, "MOATMETRICS_HOME": str(home.home)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert snapshot_schema(snapshot.snapshot_id) in done.stdout
    with psycopg.connect(dbname=bi_database["dbname"], **PG) as pg:
        assert pg.execute("SELECT snapshot_id FROM marts.current_snapshot").fetchone() == (
            snapshot.snapshot_id,
        )
        granted = pg.execute(
            "SELECT has_table_privilege(%s, 'marts.client_profitability', 'SELECT'),"
            " has_table_privilege(%s, 'marts.client_profitability', 'INSERT')",
            [READER_ROLE, READER_ROLE],
        ).fetchone()
    assert granted == (True, False)


def test_prune_drops_old_snapshot_schemas_and_keeps_the_current(
    home: Settings, bi_database: dict
) -> None:
    """`snapshots prune --url`: the newest N schemas and the current one stay, catalog included;
    the `marts` views keep working, and the BI role can still read what is left."""
    from moatmetrics.snapshots import prune_published
    from moatmetrics.storage.configured import storage_for

    published = []
    for generation in range(4):
        small_warehouse(home, generation)
        snapshot = publish(home, MARTS)
        publish_snapshot_to_postgres(
            snapshot.path, snapshot.snapshot_id, bi_database["url"], reader_role=bi_database["role"]
        )
        published.append(snapshot.snapshot_id)

    assert prune_published(storage_for(home), 2, bi_database["url"], dry_run=True) == published[:2]
    removed = prune_published(storage_for(home), 2, bi_database["url"])
    assert removed == published[:2]
    with _as_bi(bi_database) as bi:
        found = bi.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'snapshot_%'")
        schemas = {row[0] for row in found.fetchall()}
        assert schemas == {snapshot_schema(i) for i in published[2:]}
        catalog = bi.execute("SELECT snapshot_id FROM moatmetrics.snapshots ORDER BY 1").fetchall()
        assert [row[0] for row in catalog] == published[2:]
        assert bi.execute("SELECT logged_hours FROM marts.staff_utilization").fetchone() == (
            Decimal("3.00"),
        )
    assert prune_published(storage_for(home), 2, bi_database["url"]) == []  # nothing more to remove

    # An older snapshot made current again by hand is kept even past `keep`.
    import psycopg

    with psycopg.connect(dbname=bi_database["dbname"], **PG) as pg:
        pg.execute("UPDATE moatmetrics.snapshots SET is_current = false")
        pg.execute("UPDATE moatmetrics.snapshots SET is_current = true WHERE snapshot_id = %s",
                   [published[2]])  # fmt: skip
    assert prune_published(storage_for(home), 1, bi_database["url"]) == []
    with psycopg.connect(dbname=bi_database["dbname"], **PG) as pg:
        assert pg.execute("SELECT count(*) FROM moatmetrics.snapshots").fetchone() == (2,)


def test_use_makes_an_earlier_snapshot_current_again(home: Settings, bi_database: dict) -> None:
    """`snapshots use` in PostgreSQL mode: the catalog and the `marts` views go back to the
    earlier schema, which the BI role can still read; an unknown id changes nothing."""
    import dataclasses

    from moatmetrics.seam.base import SnapshotError
    from moatmetrics.storage.configured import storage_for
    from moatmetrics.warehouse.postgres import use_snapshot_in_postgres

    published = []
    for generation in (1, 2):
        small_warehouse(home, generation)
        snapshot = publish(home, MARTS)
        publish_snapshot_to_postgres(
            snapshot.path, snapshot.snapshot_id, bi_database["url"], reader_role=bi_database["role"]
        )
        published.append(snapshot)
    first, second = published
    pg_mode = dataclasses.replace(home, warehouse_url=bi_database["url"])
    with pytest.raises(SnapshotError, match="no published snapshot 'nope'"):
        storage_for(pg_mode).use_snapshot("nope")
    assert storage_for(pg_mode).current_snapshot().snapshot_id == second.snapshot_id

    use_snapshot_in_postgres(bi_database["url"], first.snapshot_id, bi_database["role"])
    assert storage_for(pg_mode).current_snapshot().snapshot_id == first.snapshot_id
    with _as_bi(bi_database) as bi:
        cp_sql = "SELECT * FROM marts.client_profitability ORDER BY client_id NULLS LAST"
        assert bi.execute(cp_sql).fetchall() == _snapshot_rows(first.path, "client_profitability")
        current = bi.execute("SELECT snapshot_id FROM marts.current_snapshot").fetchone()
        assert current == (first.snapshot_id,)
        tables = bi.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'marts'"
            " ORDER BY 1"
        ).fetchall()
        assert [t[0] for t in tables] == ["client_profitability", "current_snapshot",
                                          "staff_utilization"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("dbt_manifest")
def test_a_pipeline_run_publishes_into_postgres_when_configured(
    home: Settings, bi_database: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full run on the hand-made fixture with MOATMETRICS_PUBLISH_POSTGRES_URL set: the new
    snapshot's marts, with their trust columns, are what `marts.*` shows in PostgreSQL."""
    import shutil

    import psycopg

    from orchestration.pipeline import run_pipeline

    for path in (REPO_ROOT / "tests" / "fixtures" / "handmade").glob("*.csv"):
        shutil.copy(path, home.landing_dir / path.name)
    monkeypatch.setenv("MOATMETRICS_PUBLISH_POSTGRES_URL", bi_database["url"])
    outcome = run_pipeline(home)
    assert outcome.success, outcome.summary()
    snapshot = outcome.published
    with psycopg.connect(dbname=bi_database["dbname"], **PG) as pg:
        current = pg.execute("SELECT snapshot_id FROM marts.current_snapshot").fetchone()
        assert current == (snapshot.snapshot_id,)
        with duckdb.connect(str(snapshot.path), read_only=True) as con:
            for mart, rows in snapshot.row_counts.items():
                cursor = pg.execute(f"SELECT * FROM marts.{mart}")
                pg_rows = cursor.fetchall()
                columns = [d.name for d in cursor.description]
                duck = con.execute(f"SELECT * FROM marts.{mart}")
                assert columns == [d[0] for d in duck.description], mart
                duck_rows = duck.fetchall()
                assert len(pg_rows) == rows == len(duck_rows)
                assert sorted(map(repr, pg_rows)) == sorted(map(repr, duck_rows)), mart
