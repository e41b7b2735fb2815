"""The audit chain on SQLite and PostgreSQL: verification, tampering, concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from checkout import REPO_ROOT
from serving import wait_until
from sqlalchemy import func, select, text

from moatmetrics.appdb import audit
from moatmetrics.appdb.db import engine_for, session_scope
from moatmetrics.appdb.models import AuditEntry
from moatmetrics.settings import Settings

ACTOR = audit.Actor("alice", "analyst", request_id="r1", client_addr="10.0.0.7")


def _fill(settings: Settings, count: int) -> None:
    for index in range(1, count + 1):
        audit.record(
            settings, ACTOR, "marts.read", "denied" if index == 17 else "ok",
            target="marts/client_profitability", status=403 if index == 17 else 200,
            details={"query": {"client_id": [f"C{index}"]}, "amount": "12.50"},
        )  # fmt: skip


def _sql(settings: Settings, statement: str, **params: object) -> None:
    with engine_for(settings).begin() as connection:
        connection.execute(text(statement), params)


def test_intact_chain_verifies(app_settings: Settings) -> None:
    _fill(app_settings, 30)
    report = audit.verify(app_settings)
    assert report.valid and report.entries_checked == 30 and report.head_seq == 30
    assert report.first_broken_seq is None
    with session_scope(app_settings) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [e.seq for e in entries] == list(range(1, 31))
        assert entries[0].prev_hash == audit.GENESIS_HASH
        assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
        assert entries[16].outcome == "denied" and entries[16].client_addr == "10.0.0.7"
        assert audit.entry_dict(entries[0])["details"]["query"] == {"client_id": ["C1"]}


def test_edited_entry_is_reported(app_settings: Settings) -> None:
    _fill(app_settings, 30)
    _sql(app_settings, "UPDATE audit_log SET outcome = 'ok' WHERE seq = 17")
    report = audit.verify(app_settings)
    assert not report.valid and report.first_broken_seq == 17
    assert "modified" in report.reason


def test_edited_details_are_reported(app_settings: Settings) -> None:
    _fill(app_settings, 10)
    _sql(app_settings, "UPDATE audit_log SET details = '{}' WHERE seq = 4")
    assert audit.verify(app_settings).first_broken_seq == 4


def test_rehashed_edit_breaks_the_next_link(app_settings: Settings) -> None:
    """Rehashing an edited entry breaks the next link; the entry's own signature (an HMAC with
    a key outside the database) already gives it away."""
    _fill(app_settings, 10)
    with session_scope(app_settings, write=True) as session:
        entry = session.get(AuditEntry, 5)
        entry.actor = "mallory"
        fields = {name: getattr(entry, name) for name in audit.HASHED_FIELDS}
        entry.entry_hash = audit.compute_hash(fields, entry.prev_hash)
    report = audit.verify(app_settings)
    assert report.first_broken_seq == 5 and "wrong signature" in report.reason
    with session_scope(app_settings, write=True) as session:  # re-sign it: a key thief
        entry = session.get(AuditEntry, 5)
        entry.entry_mac = audit._entry_key(app_settings).sign(entry.entry_hash)
    report = audit.verify(app_settings)
    assert report.first_broken_seq == 6 and "does not link" in report.reason


def test_deleted_entry_is_reported(app_settings: Settings) -> None:
    _fill(app_settings, 30)
    _sql(app_settings, "DELETE FROM audit_log WHERE seq = 23")
    report = audit.verify(app_settings)
    assert not report.valid and report.first_broken_seq == 23
    assert "missing" in report.reason


def test_truncated_log_is_reported(app_settings: Settings) -> None:
    _fill(app_settings, 12)
    _sql(app_settings, "DELETE FROM audit_log WHERE seq >= 11")
    report = audit.verify(app_settings)
    assert not report.valid and report.first_broken_seq == 11
    assert "truncated" in report.reason


def test_appends_need_a_write_session(sqlite_settings: Settings) -> None:
    with session_scope(sqlite_settings) as session, pytest.raises(RuntimeError):
        audit.append(session, ACTOR, "x", "ok")


def test_rolled_back_append_leaves_no_gap(app_settings: Settings) -> None:
    _fill(app_settings, 3)
    with pytest.raises(ZeroDivisionError), session_scope(app_settings, write=True) as session:
        audit.append(session, ACTOR, "keys.create", "ok")
        raise ZeroDivisionError
    _fill(app_settings, 2)
    report = audit.verify(app_settings)
    assert report.valid and report.head_seq == 5


WRITER = """
import sys, time
from pathlib import Path
from moatmetrics.appdb import audit
from moatmetrics.appdb.db import engine_for
from moatmetrics.settings import get_settings
settings = get_settings()
engine_for(settings)
name, go, rounds, per_round, writers = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:6])
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.002)
for round_no in range(rounds):  # lock-step: no writer starts round k+1 before all finished k
    for index in range(per_round):
        audit.record(settings, audit.Actor(name), "pipeline.ingest", "ok", f"n/{round_no}/{index}")
    (go.parent / f"done-{round_no}-{name}").touch()
    while len(list(go.parent.glob(f"done-{round_no}-*"))) < writers:
        time.sleep(0.002)
"""


@pytest.mark.slow  # three writer processes, 450 entries: not in `make test-fast`
@pytest.mark.timeout(900)
def test_concurrent_writers_keep_the_chain(app_settings: Settings, tmp_path: Path) -> None:
    """Three processes append at once: every entry lands exactly once, the chain stays valid.

    The writers move in lock-step rounds (a file barrier after each round), so every round
    holds entries of all three whatever the scheduler does: the interleaving is forced, and
    only outcomes are asserted."""
    engine_for(app_settings)  # migrate before the writers start
    go = tmp_path / "go"
    env = {**os.environ, "MOATMETRICS_HOME": str(app_settings.home)}
    if app_settings.database_url:
        env["MOATMETRICS_DATABASE_URL"] = app_settings.database_url
    rounds, per_round, count = 30, 5, 3
    per_writer = rounds * per_round
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"writer-{n}", str(go)]
            + [str(rounds), str(per_round), str(count)],
            cwd=REPO_ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for n in range(3)
    ]
    ready = [tmp_path / f"ready-writer-{n}" for n in range(3)]

    def all_ready() -> bool:  # every writer imported and connected
        assert all(writer.poll() is None for writer in writers), "a writer died before the start"
        return all(path.exists() for path in ready)

    wait_until(all_ready, step=0.01)
    go.touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=240)
        assert writer.returncode == 0, stderr.decode()
    report = audit.verify(app_settings)
    assert report.valid, report
    assert report.entries_checked == 3 * per_writer
    with session_scope(app_settings) as session:
        rows = session.execute(
            select(AuditEntry.actor, func.count(func.distinct(AuditEntry.target))).group_by(
                AuditEntry.actor
            )
        ).all()
        order = session.execute(
            select(AuditEntry.actor, AuditEntry.target).order_by(AuditEntry.seq)
        ).all()
    assert dict(rows) == {f"writer-{n}": per_writer for n in range(3)}  # none lost or doubled
    # The barrier makes the log a run of rounds, each holding all three writers' entries.
    block = count * per_round
    for round_no in range(rounds):
        entries = order[round_no * block : (round_no + 1) * block]
        assert {target.split("/")[1] for _, target in entries} == {str(round_no)}
        assert {actor for actor, _ in entries} == {f"writer-{n}" for n in range(count)}
    actors = [actor for actor, _ in order]
    switches = sum(1 for a, b in zip(actors, actors[1:], strict=False) if a != b)
    assert switches >= 2 * rounds  # every round switches writer at least twice
