"""Refused anonymous requests, counted per client address and minute instead of logged one by one.

Every refused request (no key, a malformed, unknown or revoked key, an ended console session)
used to append a full audit entry, so anyone who could reach the port could grow the app
database at disk speed. Now the first refusal of an address and action (`marts.read`,
`console.sign_in`...) in a one-minute window is logged in full (its recorded details are
capped by the gate), the rest only increment the window's row, and once the window is over one
`auth.refusals` entry records how many there were: the log still accounts for every refusal,
in at most two entries per address, action and minute (the actions are a fixed set of about
40). Past `MOATMETRICS_ANONYMOUS_LIMIT_PER_MINUTE` refusals in a minute (all actions together)
an address gets 429 instead of 401.

Like the key rate windows (`ratelimit.py`) the counters live in the app database, so the
numbers hold across API workers; they are read when the request arrives and written in the
request's group commit.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.models import RefusalWindow
from moatmetrics.appdb.ratelimit import WINDOW_SECONDS, RateDecision, decision, window_start

SUMMARY_ACTION = "auth.refusals"
UNKNOWN_ADDR = "unknown"


def _upsert(session: Session, addr: str, action: str, window_start: int):  # type: ignore[no-untyped-def]
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RefusalWindow).values(
        client_addr=addr, action=action, window_start=window_start, count=1
    )
    return statement.on_conflict_do_update(
        index_elements=[
            RefusalWindow.client_addr,
            RefusalWindow.action,
            RefusalWindow.window_start,
        ],
        set_={"count": RefusalWindow.count + 1},
    ).returning(RefusalWindow.count)


def peek(session: Session, addr: str | None, limit: int, now: float | None = None) -> RateDecision:
    """The decision for one more refusal of `addr` (any action), without counting it."""
    now = time.time() if now is None else now
    start = window_start(now)
    current = session.scalar(
        select(func.sum(RefusalWindow.count)).where(
            RefusalWindow.client_addr == (addr or UNKNOWN_ADDR),
            RefusalWindow.window_start == start,
        )
    )
    return decision((current or 0) + 1, limit, start, now)


def hit(
    session: Session, addr: str | None, action: str, limit: int, now: float | None = None
) -> tuple[bool, RateDecision]:
    """Count one refusal of `addr` for `action` in the current window (a write session).

    Returns whether it is the first of this address and action in the window (then it is
    logged in full) and the decision over all of the address's refusals.
    """
    now = time.time() if now is None else now
    start = window_start(now)
    addr = addr or UNKNOWN_ADDR
    count: int = session.execute(_upsert(session, addr, action, start)).scalar_one()
    total = session.scalar(
        select(func.sum(RefusalWindow.count)).where(
            RefusalWindow.client_addr == addr, RefusalWindow.window_start == start
        )
    )
    return count == 1, decision(int(total or count), limit, start, now)


def summarise_closed(session: Session, now: float | None = None) -> int:
    """Append one `auth.refusals` entry per address, action and finished window, then forget
    them.

    Called at the first refusal of a window (rare), in the same transaction, so a window is
    summarised exactly once whichever worker gets there. Returns the entries appended.
    """
    now = time.time() if now is None else now
    current = window_start(now)
    closed = session.execute(
        delete(RefusalWindow)
        .where(RefusalWindow.window_start < current)
        .returning(
            RefusalWindow.client_addr,
            RefusalWindow.action,
            RefusalWindow.window_start,
            RefusalWindow.count,
        )
    ).all()
    appended = 0
    for addr, action, started, count in sorted(closed, key=lambda row: (row[2], row[0], row[1])):
        if count <= 1:
            continue  # its one refusal is already logged in full
        start = datetime.fromtimestamp(started, UTC)
        actor = audit.Actor("anonymous", client_addr=None if addr == UNKNOWN_ADDR else addr)
        audit.append(
            session, actor, SUMMARY_ACTION, "denied", target="refusals", status=None,
            details={
                "refused_action": action,
                "window_start": audit.format_time(start),
                "window_seconds": WINDOW_SECONDS,
                "refused": count,
                "logged_in_full": 1,
            },
        )  # fmt: skip
        appended += 1
    return appended
