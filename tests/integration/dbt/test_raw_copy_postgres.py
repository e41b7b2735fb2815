"""PostgreSQL mode's one copy: the local raw layer into a PostgreSQL database, value for value.

`copy_raw_to_postgres` is how every PostgreSQL-mode run hands the ingested rows to dbt's
`postgres` target; here a table of awkward values goes through it alone. That dbt then builds
the same marts and evidence from them as on DuckDB, every row and column, is checked end to
end by tests/e2e/test_postgres_mode.py on the demo data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pytest
from postgres_server import database_url, temporary_database

from moatmetrics.warehouse.postgres import copy_raw_to_postgres


@pytest.fixture
def pg_database() -> str:
    """A fresh database; yields its URL and drops it afterwards."""
    with temporary_database("moatmetrics_test_pg") as name:
        yield name, database_url(name)


def test_copy_keeps_nulls_empty_strings_and_exact_values(pg_database) -> None:
    import psycopg

    _, url = pg_database
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.t (s VARCHAR, d DECIMAL(18, 4), b BOOLEAN, n BIGINT, day DATE,"
        " ts TIMESTAMPTZ, f DOUBLE)"
    )
    rows = [
        ("", Decimal("-0.0050"), True, 2**40, date(2024, 2, 29),
         datetime(2024, 1, 1, 12, 30, tzinfo=UTC), 0.1),
        (None, None, None, None, None, None, None),
        ('a "quoted", multi-line\ntext é', Decimal("12345678901234.5678"), False, -1,
         date(1999, 12, 31), datetime(2030, 6, 1, tzinfo=UTC), 1 / 3),
    ]  # fmt: skip
    con.executemany("INSERT INTO raw.t VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    (copied,) = copy_raw_to_postgres(con, url)
    assert (copied.name, copied.rows) == ("t", 3)
    with psycopg.connect(url) as pg:
        got = pg.execute("SELECT * FROM raw.t ORDER BY n NULLS LAST").fetchall()
    assert got == [rows[2], rows[0], rows[1]]
    copy_raw_to_postgres(con, url)  # a second copy replaces, never appends
    with psycopg.connect(url) as pg:
        assert pg.execute("SELECT count(*) FROM raw.t").fetchone()[0] == 3
