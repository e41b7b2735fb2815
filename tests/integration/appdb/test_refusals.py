"""Refusals without a valid key: counted per address, action and minute, summarised once."""

from __future__ import annotations

from sqlalchemy import select

from moatmetrics.appdb import audit, refusals
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry, RefusalWindow
from moatmetrics.settings import Settings

T0 = 1_800_000_000.0  # the start of a window (a multiple of 60)


def test_refusals_are_counted_and_each_window_summarised_once(app_settings: Settings) -> None:
    decisions = []
    with session_scope(app_settings, write=True) as session:
        for second in range(5):
            decisions.append(refusals.hit(session, "203.0.113.9", "marts.read", 3, T0 + second))
        decisions.append(refusals.hit(session, "203.0.113.9", "console.sign_in", 3, T0 + 6))
        decisions.append(refusals.hit(session, "198.51.100.1", "marts.read", 3, T0 + 7))
    firsts = [first for first, _ in decisions]
    assert firsts == [True, False, False, False, False, True, True]
    allowed = [decision.allowed for _, decision in decisions]
    assert allowed == [True, True, True, False, False, False, True]  # 3 per address, any action
    with session_scope(app_settings) as session:
        assert refusals.peek(session, "203.0.113.9", 3, T0 + 30).count == 7

    with session_scope(app_settings, write=True) as session:
        assert refusals.summarise_closed(session, T0 + 59) == 0  # the window is still open
    with session_scope(app_settings, write=True) as session:
        assert refusals.summarise_closed(session, T0 + 60) == 1  # one address had repeats
        assert refusals.summarise_closed(session, T0 + 61) == 0  # never twice
    with session_scope(app_settings) as session:
        assert session.scalars(select(RefusalWindow)).all() == []
        (entry,) = session.scalars(select(AuditEntry)).all()
        summary = audit.entry_dict(entry)
    assert summary["action"] == "auth.refusals" and summary["client_addr"] == "203.0.113.9"
    assert summary["details"]["refused"] == 5 and summary["details"]["refused_action"] == (
        "marts.read"
    )
    assert audit.verify(app_settings).valid
