"""The per-key fixed window, counted in the database (shared by every API worker)."""

from __future__ import annotations

from sqlalchemy import select

from moatmetrics.appdb import ratelimit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import RateWindow
from moatmetrics.settings import Settings


def _hit(settings: Settings, key_id: int, now: float, limit: int = 3) -> ratelimit.RateDecision:
    with session_scope(settings, write=True) as session:
        return ratelimit.hit(session, key_id, limit, now)


def test_window_counts_and_resets(app_settings: Settings) -> None:
    start = 1_800_000_000.0  # a window boundary (divisible by 60)
    decisions = [_hit(app_settings, 1, start + i) for i in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].reset_after == 57
    assert _hit(app_settings, 2, start + 5).allowed  # other keys have their own window
    fresh = _hit(app_settings, 1, start + 61)
    assert fresh.allowed and fresh.first_in_window and fresh.remaining == 2
    with session_scope(app_settings) as session:
        windows = session.execute(select(RateWindow.key_id, RateWindow.window_start)).all()
    assert sorted(windows) == [(1, start + 60), (2, start)]  # key 1's old window was dropped


def test_zero_limit_means_unlimited(sqlite_settings: Settings) -> None:
    assert all(_hit(sqlite_settings, 1, 60.0 + i, limit=0).allowed for i in range(5))


def test_peek_decides_without_counting(sqlite_settings: Settings) -> None:
    start = 1_800_000_000.0
    with session_scope(sqlite_settings) as session:
        first = ratelimit.peek(session, 7, 2, start)
    assert first.allowed and first.count == 1 and first.remaining == 1
    _hit(sqlite_settings, 7, start, limit=2)
    _hit(sqlite_settings, 7, start + 1, limit=2)
    with session_scope(sqlite_settings) as session:
        third = ratelimit.peek(session, 7, 2, start + 2)
        assert not third.allowed and third.reset_after == 58
        assert ratelimit.peek(session, 7, 2, start + 60).allowed  # next window
