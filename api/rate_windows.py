"""Each worker's view of its keys' rate windows, so a request is admitted without reading
the app database, while the limit stays exact across workers.

The count of record stays in the app database (`moatmetrics.appdb.ratelimit`) and is
incremented in the audit group commit (`api.request_gate.settle`), which returns the new
count. A worker keeps, per key, the highest count it has seen settled in the current window
plus the requests it has admitted and not yet settled. That estimate never exceeds the true
count (at a window's turn it may fall short), so a request it refuses is truly over the
limit. A request it admits is confirmed when it settles, before its response leaves: if the
count of record says the window is spent (another worker took the rest), the response is
replaced by a 429. Between them the two checks admit exactly `limit` requests per key and
window, whatever the number of workers, with no database read on admission.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from moatmetrics.appdb.ratelimit import RateDecision, decision, window_start


@dataclass
class _KeyWindow:
    start: int
    settled: int  # the highest count of record seen for this window
    in_flight: int  # admitted here, not yet settled


class RateWindows:
    """key id -> this worker's view of the key's current window. Used from the event loop."""

    def __init__(self) -> None:
        self._windows: dict[int, _KeyWindow] = {}

    def _current(self, key_id: int, now: float) -> _KeyWindow:
        start = window_start(now)
        window = self._windows.get(key_id)
        if window is None or window.start != start:
            # Requests still in flight from the last window may be counted in either one;
            # leaving them out can only under-count, which settlement corrects.
            window = self._windows[key_id] = _KeyWindow(start, 0, 0)
        return window

    def admit(
        self, key_id: int, limit: int, peeked: RateDecision | None = None, now: float | None = None
    ) -> RateDecision:
        """The decision for one more request, counted as in flight until `settled`.

        `peeked`: the app database's decision for that request when it was read anyway (a
        key not cached, a request that changes state), its count one past the count of record.
        """
        now = time.time() if now is None else now
        window = self._current(key_id, now)
        if peeked is not None and peeked.window_start == window.start:
            window.settled = max(window.settled, peeked.count - 1)
        window.in_flight += 1
        return decision(window.settled + window.in_flight, limit, window.start, now)

    def settled(self, key_id: int, count_of_record: RateDecision | None) -> None:
        """A request admitted by `admit` has settled (`count_of_record`: the decision its
        settlement returned; None when it could not be recorded)."""
        window = self._windows.get(key_id)
        if window is None:
            return
        window.in_flight = max(window.in_flight - 1, 0)
        if count_of_record is not None and count_of_record.window_start == window.start:
            window.settled = max(window.settled, count_of_record.count)
