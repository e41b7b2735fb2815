"""Alembic environment, configured in code by `moatmetrics.appdb.db.migrate`.

The caller passes an open connection inside a transaction (``config.attributes``), so the
migration runs under the caller's lock (SQLite write lock or a PostgreSQL advisory lock) and
two processes starting at once cannot both apply it. No alembic.ini, no logging setup.
"""

from __future__ import annotations

from alembic import context

from moatmetrics.appdb.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through moatmetrics.appdb.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
