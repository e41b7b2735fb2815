"""Per-key rate limit: a fixed one-minute window counted in the app database.

The counter lives in the database, not in the API process, so the limit holds for a key
however many API workers or instances serve it. The API reads the counter when a request
arrives (`peek`, no write) and counts the request in the same write transaction that appends
its audit entry (`hit`), so limiting adds no commit of its own; the price is that requests
already in flight when the limit is reached still finish. A fixed window also lets a client
burst up to twice the limit across a window boundary. Both are acceptable for protecting an
offline analytics server from a runaway script.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from moatmetrics.appdb.models import RateWindow

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window ends
    count: int
    window_start: int = 0  # the window's first second (Unix time)

    @property
    def first_in_window(self) -> bool:
        return self.count == 1


def _upsert(session: Session, key_id: int, window_start: int):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        # Same call, the SQLite class of statement (mypy sees two unrelated types).
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(RateWindow).values(key_id=key_id, window_start=window_start, count=1)
    return statement.on_conflict_do_update(
        index_elements=[RateWindow.key_id, RateWindow.window_start],
        set_={"count": RateWindow.count + 1},
    ).returning(RateWindow.count)


def window_start(now: float) -> int:
    """The first second of the window that `now` falls in."""
    return int(now // WINDOW_SECONDS) * WINDOW_SECONDS


def decision(count: int, limit: int, start: int, now: float) -> RateDecision:
    """The decision for the `count`-th request of the window starting at `start`."""
    reset_after = max(1, math.ceil(start + WINDOW_SECONDS - now))
    if limit <= 0:
        return RateDecision(True, 0, 0, reset_after, count, start)
    return RateDecision(count <= limit, limit, max(limit - count, 0), reset_after, count, start)


def peek(session: Session, key_id: int, limit: int, now: float | None = None) -> RateDecision:
    """The decision for one more request of `key_id`, without counting it."""
    now = time.time() if now is None else now
    start = window_start(now)
    current = session.scalar(
        select(RateWindow.count).where(
            RateWindow.key_id == key_id, RateWindow.window_start == start
        )
    )
    return decision((current or 0) + 1, limit, start, now)


def hit(session: Session, key_id: int, limit: int, now: float | None = None) -> RateDecision:
    """Count one request of `key_id`; `allowed` is False once the window's limit is passed.

    `limit` <= 0 switches limiting off (the request is still counted).
    """
    now = time.time() if now is None else now
    start = window_start(now)
    count: int = session.execute(_upsert(session, key_id, start)).scalar_one()
    if count == 1:  # a new window: forget this key's old ones
        session.execute(
            delete(RateWindow).where(RateWindow.key_id == key_id, RateWindow.window_start < start)
        )
    return decision(count, limit, start, now)
