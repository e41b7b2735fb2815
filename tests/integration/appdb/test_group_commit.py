"""The gate's group commit on a real app database: batched writes, failures kept apart."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.audit_group_commit import GroupCommit
from moatmetrics.appdb import audit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry
from moatmetrics.settings import get_settings


def _append(name: str):
    actor = audit.Actor(name=name, role="viewer")

    def write(session) -> None:
        audit.append(session, actor, "marts.read", "ok", target="marts/client_profitability")

    return write


def _broken(session) -> None:
    raise ValueError("this request's entry cannot be written")


def test_concurrent_requests_share_commits_and_a_failure_stays_its_own(tmp_path: Path) -> None:
    settings = dataclasses.replace(get_settings(), home=tmp_path / "home")
    group = GroupCommit(session_scope)

    async def settle_all() -> list[BaseException | None]:
        writes = [_append(f"reader-{i}") for i in range(60)]
        writes.insert(30, _broken)
        outcomes = await asyncio.gather(
            *(group.settle(settings, write) for write in writes), return_exceptions=True
        )
        return list(outcomes)

    outcomes = asyncio.run(settle_all())
    failures = [i for i, outcome in enumerate(outcomes) if outcome is not None]
    assert failures == [30]
    # the request that broke the batch gets its own error, so the gate can say why
    assert isinstance(outcomes[30], ValueError) and "cannot be written" in str(outcomes[30])
    with session_scope(settings) as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
        names = set(session.scalars(select(AuditEntry.actor)))
    assert entries == 60
    assert names == {f"reader-{i}" for i in range(60)}
    assert audit.verify(settings).valid


def test_a_request_waits_for_its_commit(tmp_path: Path) -> None:
    settings = dataclasses.replace(get_settings(), home=tmp_path / "home")
    group = GroupCommit(session_scope)
    asyncio.run(group.settle(settings, _append("alone")))
    # Visible to a new session the moment settle returns: committed, not queued.
    with session_scope(settings) as session:
        assert session.scalar(select(AuditEntry.actor)) == "alone"


@pytest.fixture(autouse=True)
def _no_engines_left():
    yield
    from moatmetrics.appdb.db import dispose_engines

    dispose_engines()
