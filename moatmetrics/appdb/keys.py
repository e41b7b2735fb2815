"""API keys: created with a role, shown once, stored as a SHA-256 hash, revocable.

A key is ``mmk_<8 hex>_<43 url-safe chars>`` (256 random bits). Because the secret part has
full entropy, a plain SHA-256 is enough to store it (no slow password hash needed) and lets
the API find a key by one indexed lookup per request. ``mmk_<8 hex>`` is the key's prefix:
not secret, shown in lists and audit entries so people can tell keys apart.

There are no default keys: the first admin key is made with ``moatmetrics keys create``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.models import ApiKey, ConsoleSession, utcnow

ROLES = ("viewer", "analyst", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
KEY_PATTERN = re.compile(r"^(mmk_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$")
# A client id as the marts hold it (PSA ids): no commas, so `--clients C1,C2` is unambiguous.
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:/@#-]{0,99}$")
MAX_SCOPED_CLIENTS = 500


class KeyManagementError(ValueError):
    """A key operation that cannot be done (unknown key, name taken, bad role)."""


class KeyNameTaken(KeyManagementError):
    """Key names are unique and never reused, so the audit log's actor names one key."""


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid key."""

    key_id: int  # for a single sign-on user: minus the user's id (their rate window)
    name: str
    role: str
    prefix: str
    user_id: int | None = None  # a single sign-on user (console only), not a key
    # Client-scoped access: the only clients this caller may see; None = every client.
    clients: frozenset[str] | None = None

    def has_role(self, required: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[required]


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    clients: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def stored_clients(text: str | None) -> frozenset[str] | None:
    """The scope as stored (`api_keys.clients`, a JSON list), None for an unscoped key."""
    return None if text is None else frozenset(json.loads(text))


def parse_clients(values: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...] | None:
    """A key's scope from `--clients C1,C2` or the API's list: sorted, distinct, validated.

    None (no scope asked) stays None; an empty scope is refused, since a key that may see no
    client is a mistake, not a safe default.
    """
    if values is None:
        return None
    items = values.split(",") if isinstance(values, str) else list(values)
    clients = sorted({item.strip() for item in items if item.strip()})
    if not clients:
        raise KeyManagementError("a client scope names at least one client id, e.g. C1,C2")
    if len(clients) > MAX_SCOPED_CLIENTS:
        raise KeyManagementError(f"a client scope names at most {MAX_SCOPED_CLIENTS} clients")
    for client in clients:
        if not CLIENT_ID_PATTERN.match(client):
            raise KeyManagementError(
                f"client id {client!r}: use the id the marts show (letters, digits, ._:/@#-)"
            )
    return tuple(clients)


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        role=key.role,
        prefix=key.prefix,
        created_at=key.created_at,
        created_by=key.created_by,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
        revoked_by=key.revoked_by,
        clients=None if key.clients is None else tuple(sorted(json.loads(key.clients))),
    )


def create_key(
    session: Session,
    actor: audit.Actor,
    name: str,
    role: str,
    clients: list[str] | tuple[str, ...] | str | None = None,
) -> tuple[KeyInfo, str]:
    """Store a new key and audit it (with its client scope); returns its info and the secret
    (never stored). A scoped key cannot be admin: admins manage keys and read the audit log,
    which name every client."""
    name = name.strip()
    if role not in ROLE_RANK:
        raise KeyManagementError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    scope = parse_clients(clients)
    if scope is not None and role == "admin":
        raise KeyManagementError(
            "a client-scoped key cannot be admin (admins see keys and the audit log of every"
            " client); use --role viewer or analyst with --clients"
        )
    if not NAME_PATTERN.match(name):
        raise KeyManagementError(
            "a key name is 1-100 letters, digits, spaces or ._@- and starts with a letter or digit"
        )
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise KeyNameTaken(f"a key named {name!r} already exists (names are never reused)")
    prefix = f"mmk_{secrets.token_hex(4)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, role=role, prefix=prefix, key_hash=hash_key(secret), created_by=actor.name,
        clients=None if scope is None else json.dumps(list(scope)),
    )  # fmt: skip
    session.add(key)
    session.flush()
    audit.append(
        session, actor, "keys.create", "ok", target=f"keys/{key.id}",
        details={"name": name, "role": role, "prefix": prefix,
                 "clients": None if scope is None else list(scope)},
    )  # fmt: skip
    return _info(key), secret


def list_keys(session: Session, include_revoked: bool = True) -> list[KeyInfo]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_info(key) for key in session.scalars(query)]


def find_key(session: Session, ident: str | int) -> ApiKey | None:
    """By id, prefix or name (the CLI accepts any of them)."""
    text = str(ident).strip()
    if text.isdigit():
        return session.get(ApiKey, int(text))
    return session.scalar(select(ApiKey).where((ApiKey.prefix == text) | (ApiKey.name == text)))


def revoke_key(session: Session, actor: audit.Actor, ident: str | int) -> KeyInfo:
    """Revoke at once (the next request with it gets 401); revoking twice is a no-op."""
    key = find_key(session, ident)
    if key is None:
        raise KeyManagementError(f"no key {ident!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by = actor.name
        # Its console sessions end with it (they would be refused anyway: the key is revoked).
        session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.key_id == key.id, ConsoleSession.ended_at.is_(None))
            .values(ended_at=key.revoked_at, ended_reason="key_revoked")
        )
        audit.append(
            session, actor, "keys.revoke", "ok", target=f"keys/{key.id}",
            details={"name": key.name, "prefix": key.prefix},
        )  # fmt: skip
    return _info(key)


@dataclass(frozen=True)
class Authentication:
    """Result of looking a presented key up: `principal` is set only when it is valid."""

    principal: Principal | None
    # missing | malformed | unknown | revoked; console sessions also: signed_out | expired
    reason: str | None
    key_name: str | None = None  # a revoked key's name, for the audit entry


def authenticate(session: Session, secret: str | None) -> Authentication:
    if not secret:
        return Authentication(None, "missing")
    if not KEY_PATTERN.match(secret):
        return Authentication(None, "malformed")
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if key is None:
        return Authentication(None, "unknown")
    if key.revoked_at is not None:
        return Authentication(None, "revoked", key.name)
    return Authentication(key_principal(key), None)


def key_principal(key: ApiKey) -> Principal:
    """The caller behind a valid key, with its client scope (API and console sessions)."""
    return Principal(key.id, key.name, key.role, key.prefix, clients=stored_clients(key.clients))


def touch(session: Session, key_id: int) -> None:
    """Record use (called at most once per rate window, not on every request)."""
    key = session.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = utcnow()
