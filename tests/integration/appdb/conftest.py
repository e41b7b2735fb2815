"""App database fixtures: a SQLite app.db in the test's home, and a throw-away PostgreSQL one.

The PostgreSQL fixture creates its own database on the machine's server (127.0.0.1:5432,
user postgres, trust auth, like CI) and drops it afterwards; without a server it skips.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

import pytest
from postgres_server import admin_connection, database_url

from moatmetrics.appdb.db import dispose_engines
from moatmetrics.settings import Settings


@pytest.fixture
def sqlite_settings(home: Settings) -> Settings:
    return dataclasses.replace(home, database_url=None)


@pytest.fixture
def pg_settings(home: Settings) -> Iterator[Settings]:
    admin = admin_connection("test")
    name = f"moatmetrics_test_appdb_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    try:
        yield dataclasses.replace(home, database_url=url)
    finally:
        dispose_engines()
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def app_settings(request: pytest.FixtureRequest) -> Settings:
    """Run a test on both engines."""
    return request.getfixturevalue(
        "pg_settings" if request.param == "postgresql" else "sqlite_settings"
    )
