"""Engines and sessions of the app database, migrated to the newest schema on first use.

SQLite (default) is shared by several processes: the API (possibly several workers), a pipeline
run and the CLI. WAL mode lets readers run while one process writes, ``busy_timeout`` makes a
writer wait for the lock instead of failing, and write sessions start with ``BEGIN
IMMEDIATE`` so they take the write lock up front: a transaction that first reads and later
writes (the audit chain reads its head, then appends) can otherwise fail with "database is
locked" when another process committed in between. PostgreSQL needs none of this; appends to
the audit log serialise there on a row lock (see `audit.py`).

A SQLite file deleted or replaced under a running process would split the audit log: pooled
connections keep writing into the deleted file while other processes create a new one. So the
engine remembers the file's identity (device and inode) and every session checks it first;
a mismatch raises `AppDatabaseReplaced` (the API answers 503, nothing is served unaudited)
until the process is restarted on the right file.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from moatmetrics.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
WRITE_OPTION = "moatmetrics_write"
#: `session.info` key of a callable run once the session has committed (see `session_scope`).
AFTER_COMMIT = "moatmetrics_after_commit"
BUSY_TIMEOUT_S = 30
_MIGRATION_LOCK_KEY = 0x6D6D_6D69  # pg_advisory_xact_lock key while migrating ("mmmi")

_engines: dict[tuple[str, int], Engine] = {}
_engines_lock = threading.Lock()


class AppDatabaseError(RuntimeError):
    """The app database cannot be reached or migrated."""


class AppDatabaseReplaced(AppDatabaseError):
    """The SQLite file this process opened was deleted or replaced while it ran."""


_identities: dict[str, tuple[Path, tuple[int, int]]] = {}  # engine url -> (file, (dev, ino))


def _sqlite_file(url: str) -> Path | None:
    database = url.split("///", 1)[1] if url.startswith("sqlite") and "///" in url else ""
    return Path(database) if database and database != ":memory:" else None


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def check_identity(engine: Engine) -> None:
    """Raise AppDatabaseReplaced when the engine's SQLite file is gone or another file."""
    known = _identities.get(str(engine.url))
    if known is None:
        return
    path, identity = known
    current = _file_identity(path)
    if current != identity:
        state = "was deleted" if current is None else "was replaced by another file"
        raise AppDatabaseReplaced(
            f"the app database {path.name} {state} while this process was running; nothing is"
            " served unaudited. Restore the file (with its audit-checkpoint.json) and restart"
            " the API"
        )


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
        # The write-ahead log is checkpointed every 128 pages (512 KiB) and cut back to 512 KiB
        # after each checkpoint: a flood of small writes (refusal counters) cannot grow the
        # files on disk by more than that (SQLite's default lets the log reach about 4 MB).
        cursor.execute("PRAGMA wal_autocheckpoint=128")
        cursor.execute(f"PRAGMA journal_size_limit={512 * 1024}")
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
            sqlite_file = _sqlite_file(url)
            if sqlite_file is not None:
                identity = _file_identity(sqlite_file)
                if identity is not None:
                    _identities[str(engine.url)] = (sqlite_file, identity)
            _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests dropping a database, process shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _identities.clear()


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """Wait for this process's turn to write to a SQLite app database in the kernel, not in
    SQLite's busy handler.

    A SQLite writer that finds the database locked sleeps and retries (after 1, 2, 5 ... up to
    100 ms), so API workers committing in turn kept each other asleep long after the lock was
    free: with two workers at 50 connections that was most of the 99th percentile. An
    exclusive `flock` on a file beside the database wakes the next writer as soon as the
    lock is released. Taken by the API's group commit (one writer thread per process, never
    nested); a no-op for PostgreSQL, which queues lock waiters itself.
    """
    sqlite_file = _sqlite_file(str(engine.url))  # its folder exists: the engine opened it
    if sqlite_file is None:
        yield
        return
    fd = os.open(f"{sqlite_file}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def session_scope(
    settings: Settings | None = None, *, write: bool = False, turn: bool = False
) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    ``write=True`` takes SQLite's write lock at BEGIN; every session that writes must say so.
    ``turn=True`` (the API's group commit) first waits for the process's `writer_turn`, and
    gives it up at the commit, before the signed checkpoint is advanced.
    """
    settings = settings or get_settings()
    engine = engine_for(settings)
    check_identity(engine)
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        session.info["write"] = write
        session.info["settings"] = settings
        with writer_turn(engine) if turn else nullcontext(), session.begin():
            yield session
        # Committed: what must follow the commit outside the database (the audit log signs
        # its new head, `moatmetrics.appdb.audit.append`). A hook rather than an import, so
        # the session knows nothing of the audit log that writes through it.
        after_commit = session.info.pop(AFTER_COMMIT, None)
        if after_commit is not None:
            after_commit(session)
