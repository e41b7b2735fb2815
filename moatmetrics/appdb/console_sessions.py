"""Server-side sessions of the web console: a random cookie value, only its hash stored.

The console used to keep the API key itself in its cookie, so signing out only asked the
browser to forget it: a copied cookie kept working after sign-out and past the promised
8 hours, for as long as the key lived. Now signing in creates a row here and the cookie holds
a fresh random token (`mms_` + 256 bits); the row holds its SHA-256 (full entropy, so a fast
hash is enough, as for keys), the key it acts for, and an absolute expiry. A session ends on
sign-out, at expiry, and when its key is revoked (`keys.revoke_key` ends them, and a revoked
key is refused anyway). Any API worker can check a session: nothing lives in a process.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moatmetrics.appdb.keys import Authentication, Principal
from moatmetrics.appdb.models import ApiKey, ConsoleSession, utcnow

TOKEN_PATTERN = re.compile(r"^mms_[A-Za-z0-9_-]{43}$")
SESSION_HOURS = 8


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, key_id: int, hours: int = SESSION_HOURS) -> str:
    """A new session for the key; returns the cookie value (shown to nobody else)."""
    token = f"mms_{secrets.token_urlsafe(32)}"
    now = utcnow()
    session.add(
        ConsoleSession(
            token_hash=_hash(token),
            key_id=key_id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )  # fmt: skip
    )
    session.flush()
    return token


def authenticate(session: Session, token: str | None) -> Authentication:
    """The principal behind a live session, or why there is none."""
    if not token:
        return Authentication(None, "missing")
    if not TOKEN_PATTERN.match(token):
        return Authentication(None, "malformed")
    row = session.execute(
        select(ConsoleSession, ApiKey)
        .join(ApiKey, ApiKey.id == ConsoleSession.key_id)
        .where(ConsoleSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return Authentication(None, "unknown")
    console_session, key = row
    if key.revoked_at is not None:
        return Authentication(None, "revoked", key.name)
    if console_session.ended_at is not None:
        return Authentication(None, "signed_out", key.name)
    if console_session.expires_at <= utcnow():
        return Authentication(None, "expired", key.name)
    return Authentication(Principal(key.id, key.name, key.role, key.prefix), None)


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
