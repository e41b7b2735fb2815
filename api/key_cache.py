"""Valid API keys remembered for half a second per worker: a request on a key seen in the
last half second needs no app-database read to be authenticated.

Why half a second: a revoked key must be refused by every worker within one second, and the
workers (and other instances, and the CLI that can revoke a key) share nothing but the app
database. An entry older than `FRESH_SECONDS` is read again, so a revocation made anywhere is
seen everywhere within `FRESH_SECONDS`; a revocation through this worker's own API clears its
cache at once (`forget_all`). At the rates that matter (hundreds of requests a second on a
few keys) that is one read per key and worker every half second instead of one per request.

Only valid keys are remembered: a refused key is read every time, because the refusal must
say why (unknown, revoked) and is counted per client address. Entries are keyed by the key's
SHA-256, the digest the app database stores, never by the secret itself.
"""

from __future__ import annotations

import time

from moatmetrics.appdb.keys import Principal, hash_key

#: How long a worker trusts a key it has read (half of the one-second revocation promise).
FRESH_SECONDS = 0.5
#: Past this many keys the cache starts again (it bounds memory against key spraying).
MAX_KEYS = 10_000


class KeyCache:
    """Key digest -> (principal, when it was read). Used from the event loop's thread."""

    def __init__(self, fresh_seconds: float = FRESH_SECONDS) -> None:
        self.fresh_seconds = fresh_seconds
        self._entries: dict[str, tuple[Principal, float]] = {}

    def principal(self, secret: str) -> Principal | None:
        """The principal behind `secret` if it was read as valid less than `fresh_seconds`
        ago; None means: read the app database."""
        entry = self._entries.get(hash_key(secret))
        if entry is None or time.monotonic() - entry[1] >= self.fresh_seconds:
            return None
        return entry[0]

    def remember(self, secret: str, principal: Principal, read_at: float) -> None:
        """Remember a key read as valid at `read_at` (time.monotonic() before the read)."""
        if len(self._entries) >= MAX_KEYS:
            self._entries.clear()
        self._entries[hash_key(secret)] = (principal, read_at)

    def forget_all(self) -> None:
        """Drop every entry (a key was revoked through this worker)."""
        self._entries.clear()
