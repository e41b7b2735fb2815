"""API keys: shown once, stored hashed, revocable, names never reused; migrations match models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from moatmetrics.appdb import audit, keys
from moatmetrics.appdb.db import engine_for, session_scope
from moatmetrics.appdb.models import ApiKey, AuditEntry, Base
from moatmetrics.settings import Settings

CLI = audit.Actor("cli:ops")


def test_migrations_match_the_models(app_settings: Settings) -> None:
    with engine_for(app_settings).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_migrations_form_one_chain() -> None:
    """Branches that each add a migration after the same parent give two heads, and then no
    app database opens: the chain must have one head, numbered in order."""
    from alembic.script import ScriptDirectory

    from moatmetrics.appdb.db import MIGRATIONS_DIR

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1, script.get_heads()
    chain = [revision.revision for revision in script.walk_revisions()]
    assert chain == sorted(chain, reverse=True), chain  # 0008 -> ... -> 0001


def test_key_lifecycle(app_settings: Settings) -> None:
    with session_scope(app_settings, write=True) as session:
        info, secret = keys.create_key(session, CLI, "finance-bi", "viewer")
    assert keys.KEY_PATTERN.match(secret) and secret.startswith(info.prefix + "_")
    assert info.active and info.role == "viewer" and info.created_by == "cli:ops"

    with session_scope(app_settings) as session:
        stored = session.scalars(select(ApiKey)).one()
        assert stored.key_hash == keys.hash_key(secret) and secret not in stored.key_hash
        auth = keys.authenticate(session, secret)
    assert auth.principal == keys.Principal(info.id, "finance-bi", "viewer", info.prefix)
    assert auth.principal.has_role("viewer") and not auth.principal.has_role("analyst")

    with session_scope(app_settings) as session:
        assert keys.authenticate(session, None).reason == "missing"
        assert keys.authenticate(session, "Bearer nonsense").reason == "malformed"
        forged = info.prefix + "_" + "A" * 43
        assert keys.authenticate(session, forged).reason == "unknown"

    with session_scope(app_settings, write=True) as session:
        revoked = keys.revoke_key(session, CLI, info.prefix)
        again = keys.revoke_key(session, CLI, "finance-bi")  # idempotent
    assert not revoked.active and again.revoked_at == revoked.revoked_at
    with session_scope(app_settings) as session:
        auth = keys.authenticate(session, secret)
        assert auth.principal is None and auth.reason == "revoked"
        assert auth.key_name == "finance-bi"
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions == ["keys.create", "keys.revoke"]  # the second revoke changed nothing


def test_key_rules(sqlite_settings: Settings) -> None:
    with session_scope(sqlite_settings, write=True) as session:
        keys.create_key(session, CLI, "ops", "admin")
    for name, role in (("ops", "admin"), ("x", "root"), ("../x", "viewer"), ("", "viewer")):
        with (
            pytest.raises(keys.KeyManagementError),
            session_scope(sqlite_settings, write=True) as session,
        ):
            keys.create_key(session, CLI, name, role)
    with (
        pytest.raises(keys.KeyManagementError),
        session_scope(sqlite_settings, write=True) as session,
    ):
        keys.revoke_key(session, CLI, 999)


def test_no_key_exists_by_default(sqlite_settings: Settings) -> None:
    with session_scope(sqlite_settings) as session:
        assert keys.list_keys(session) == []
