"""Server-side sessions of the web console: a random cookie value, only its hash stored.

The console used to keep the API key itself in its cookie, so signing out only asked the
browser to forget it: a copied cookie kept working after sign-out and past the promised
8 hours, for as long as the key lived. Now signing in creates a row here and the cookie holds
a fresh random token (`mms_` + 256 bits); the row holds its SHA-256 (full entropy, so a fast
hash is enough, as for keys), the key it acts for, and an absolute expiry. A session ends on
sign-out, at expiry, and when its key is revoked (`keys.revoke_key` ends them, and a revoked
key is refused anyway). Any API worker can check a session: nothing lives in a process.

A session of a single sign-on user (`start_for_user`, `moatmetrics.appdb.sso_users`) points
at the user instead of a key; its principal carries the role mapped at sign-in and the
user's actor name, and `key_id` = minus the user's id, so their requests are counted in a
rate window of their own like a key's.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moatmetrics.appdb.keys import Authentication, Principal, key_principal, stored_clients
from moatmetrics.appdb.models import ApiKey, ConsoleSession, SsoUser, utcnow

TOKEN_PATTERN = re.compile(r"^mms_[A-Za-z0-9_-]{43}$")
SESSION_HOURS = 8


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, key_id: int, hours: int = SESSION_HOURS) -> str:
    """A new session for the key; returns the cookie value (shown to nobody else)."""
    return _start(session, key_id, None, hours)


def start_for_user(session: Session, user_id: int, hours: int = SESSION_HOURS) -> str:
    """A new session for a single sign-on user; returns the cookie value."""
    return _start(session, None, user_id, hours)


def _start(session: Session, key_id: int | None, user_id: int | None, hours: int) -> str:
    token = f"mms_{secrets.token_urlsafe(32)}"
    now = utcnow()
    session.add(
        ConsoleSession(
            token_hash=_hash(token),
            key_id=key_id,
            user_id=user_id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )  # fmt: skip
    )
    session.flush()
    return token


def sso_principal(user: SsoUser) -> Principal:
    """A single sign-on user as the gate sees them (rate window: minus their id)."""
    return Principal(
        -user.id, user.actor_name, user.role, "sso", user_id=user.id,
        clients=stored_clients(user.clients),
    )  # fmt: skip


def authenticate(session: Session, token: str | None) -> Authentication:
    """The principal behind a live session, or why there is none."""
    if not token:
        return Authentication(None, "missing")
    if not TOKEN_PATTERN.match(token):
        return Authentication(None, "malformed")
    row = session.execute(
        select(ConsoleSession, ApiKey, SsoUser)
        .outerjoin(ApiKey, ApiKey.id == ConsoleSession.key_id)
        .outerjoin(SsoUser, SsoUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return Authentication(None, "unknown")
    console_session, key, user = row
    if key is None:
        if user is None:
            return Authentication(None, "unknown")
        if console_session.ended_at is not None:
            return Authentication(None, "signed_out", user.actor_name)
        if console_session.expires_at <= utcnow():
            return Authentication(None, "expired", user.actor_name)
        return Authentication(sso_principal(user), None)
    if key.revoked_at is not None:
        return Authentication(None, "revoked", key.name)
    if console_session.ended_at is not None:
        return Authentication(None, "signed_out", key.name)
    if console_session.expires_at <= utcnow():
        return Authentication(None, "expired", key.name)
    return Authentication(key_principal(key), None)


def end(session: Session, token: str | None, reason: str = "signed_out") -> bool:
    """End the session of this cookie value (sign-out); False when there was none to end."""
    if not token or not TOKEN_PATTERN.match(token):
        return False
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == _hash(token), ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult at run time
