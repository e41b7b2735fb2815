"""A worker's view of its keys' rate windows (api.rate_windows): it may admit a request the
count of record then refuses (another worker took the window), never refuse one the count of
record would allow."""

from __future__ import annotations

from api.rate_windows import RateWindows
from moatmetrics.appdb.ratelimit import decision

NOW = 1_800_000_030.0  # 30 s into a window
START = 1_800_000_000


def test_requests_in_flight_count_against_the_limit_until_they_settle() -> None:
    view = RateWindows()
    admitted = [view.admit(7, 3, now=NOW) for _ in range(4)]
    assert [d.allowed for d in admitted] == [True, True, True, False]
    assert [d.remaining for d in admitted] == [2, 1, 0, 0]
    for count in (1, 2, 3, 4):  # all four settle; the refused one is counted too
        view.settled(7, decision(count, 3, START, NOW))
    assert not view.admit(7, 3, now=NOW).allowed


def test_another_workers_count_is_learnt_at_settlement_and_from_a_read() -> None:
    view = RateWindows()
    first = view.admit(7, 5, now=NOW)
    assert first.allowed
    view.settled(7, decision(5, 5, START, NOW))  # four came in through another worker
    assert not view.admit(7, 5, now=NOW).allowed
    other = RateWindows()
    assert not other.admit(7, 5, peeked=decision(6, 5, START, NOW), now=NOW).allowed


def test_a_new_window_starts_from_zero_and_old_counts_do_not_leak_into_it() -> None:
    view = RateWindows()
    view.admit(7, 2, now=NOW)
    view.settled(7, decision(2, 2, START, NOW))  # the old window is spent
    view.admit(7, 2, now=NOW)  # refused, and still in flight at the turn
    later = NOW + 60
    fresh = view.admit(7, 2, now=later)
    assert fresh.allowed and fresh.count == 1  # nothing of the old window counts
    view.settled(7, decision(3, 2, START, NOW))  # the old window's refusal settles late
    # it takes the fresh request out of the count: an under-count, which settlement corrects
    assert view.admit(7, 2, now=later).count == 1


def test_keys_are_counted_apart_and_no_limit_admits_all() -> None:
    view = RateWindows()
    assert not [view.admit(1, 1, now=NOW) for _ in range(2)][-1].allowed
    assert view.admit(2, 1, now=NOW).allowed
    assert all(view.admit(3, 0, now=NOW).allowed for _ in range(100))
