"""Engines and sessions of the app database, migrated to the newest schema on first use.

SQLite (default) is shared by several processes: the API (possibly several workers), a pipeline
run and the CLI. WAL mode lets readers run while one process writes, ``busy_timeout`` makes a
writer wait for the lock instead of failing, and write sessions start with ``BEGIN
IMMEDIATE`` so they take the write lock up front: a transaction that first reads and later
writes (the audit chain reads its head, then appends) can otherwise fail with "database is
locked" when another process committed in between. PostgreSQL needs none of this; appends to
the audit log serialise there on a row lock (see `audit.py`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from moatmetrics.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
WRITE_OPTION = "moatmetrics_write"
BUSY_TIMEOUT_S = 30
_MIGRATION_LOCK_KEY = 0x6D6D_6D69  # pg_advisory_xact_lock key while migrating ("mmmi")

_engines: dict[tuple[str, int], Engine] = {}
_engines_lock = threading.Lock()


class AppDatabaseError(RuntimeError):
    """The app database cannot be reached or migrated."""


def normalize_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3 (the driver MoatMetrics ships)."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def _sqlite_engine(url: str) -> Engine:
    database = url.split("///", 1)[1] if "///" in url else ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _new_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Upgrade to the newest schema; several processes may call this at once."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def engine_for(settings: Settings | None = None) -> Engine:
    """The process's engine for the configured app database (created and migrated once)."""
    url = normalize_url((settings or get_settings()).app_database_url)
    key = (url, os.getpid())  # an engine must not cross a fork
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _new_engine(url)
            try:
                migrate(engine)
            except Exception as exc:
                engine.dispose()
                raise AppDatabaseError(f"cannot open the app database: {exc}") from exc
            _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests dropping a database, process shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(settings: Settings | None = None, *, write: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    ``write=True`` takes SQLite's write lock at BEGIN; every session that writes must say so.
    """
    engine = engine_for(settings)
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        session.info["write"] = write
        with session.begin():
            yield session
