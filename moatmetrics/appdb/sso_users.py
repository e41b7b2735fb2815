"""Single sign-on users: the role their provider's groups map to, and their record here.

Why a record at all, when the provider knows everyone: the audit log needs a stable name for
each person (`actor_name`, fixed at their first sign-in even if their e-mail changes later),
and a console session needs a row to point at, so it ends like a key's session. Records are
made just in time, at a person's first successful sign-in; nobody is created ahead.

The role is decided at every sign-in from the ID token's role claim (MOATMETRICS_OIDC_ROLE_CLAIM)
and MOATMETRICS_OIDC_GROUP_ROLES: the highest role any of the person's groups maps to. With no
mapping configured, a claim value that is itself a role name (viewer, analyst, admin; e.g.
Entra ID app roles) counts. A person none of whose groups maps to a role gets no access.

Sign-ins under way (`OidcSignIn`) live here too: a random state (only its hash is stored),
the nonce and PKCE verifier, used at most once and for at most `SIGN_IN_MINUTES`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.keys import ROLE_RANK
from moatmetrics.appdb.models import OidcSignIn, SsoUser, utcnow
from moatmetrics.settings import Settings

SIGN_IN_MINUTES = 10
# Sign-ins under way at once: anyone can start one, so their rows are bounded (a few MB).
MAX_PENDING = 10_000


class TooManySignIns(RuntimeError):
    """`MAX_PENDING` sign-ins are under way: refuse new ones until some expire."""


_NAME_CHARS = re.compile(r"[^A-Za-z0-9._@-]+")


def claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    """The strings at a dotted claim path (`groups`, `realm_access.roles`): a list or one."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def mapped_role(settings: Settings, groups: list[str]) -> str | None:
    """The highest role the groups map to, or None (no access)."""
    mapping = settings.oidc_group_roles
    if mapping:
        roles = [role for group, role in mapping if group in groups]
    else:
        roles = [group for group in groups if group in ROLE_RANK]
    return max(roles, key=ROLE_RANK.__getitem__) if roles else None


def mapped_clients(settings: Settings, groups: list[str]) -> frozenset[str] | None:
    """The clients a person may see: the union over their groups in
    MOATMETRICS_OIDC_GROUP_CLIENTS, or None (every client) when none of them is listed there.

    Scoping is decided by membership, not by role: a person in `acme-staff` is limited to
    Acme's clients whatever role their other groups give (and refused if that role is admin).
    """
    listed = [clients for group, clients in settings.oidc_group_clients if group in groups]
    return frozenset(c for clients in listed for c in clients) if listed else None


def display_name(claims: Mapping[str, Any]) -> str:
    """How the person is named in the audit log: username, e-mail or subject, as `sso:...`."""
    for claim in ("preferred_username", "email", "sub"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return "sso:" + _NAME_CHARS.sub("_", value.strip())[:90]
    return "sso:unknown"


@dataclass(frozen=True)
class SignedInUser:
    id: int
    actor_name: str
    role: str
    created: bool


def sign_in_user(
    session: Session,
    issuer: str,
    claims: Mapping[str, Any],
    role: str,
    groups: list[str],
    clients: frozenset[str] | None = None,
) -> SignedInUser:
    """Find (or create, the first time) the person behind validated claims; record the role."""
    subject = str(claims["sub"])
    user = session.scalar(
        select(SsoUser).where(SsoUser.issuer == issuer, SsoUser.subject == subject)
    )
    created = user is None
    now = utcnow()
    if user is None:
        name = display_name(claims)
        if session.scalar(select(SsoUser.id).where(SsoUser.actor_name == name)) is not None:
            name = f"{name[:80]}#{secrets.token_hex(3)}"  # same name at another subject
        user = SsoUser(issuer=issuer, subject=subject, actor_name=name, created_at=now)
        session.add(user)
    email, name_claim = claims.get("email"), claims.get("name")
    user.email = email if isinstance(email, str) else None
    user.display_name = name_claim if isinstance(name_claim, str) else None
    user.role = role
    user.groups = json.dumps(sorted(groups))
    user.clients = None if clients is None else json.dumps(sorted(clients))
    user.last_sign_in_at = now
    session.flush()
    return SignedInUser(user.id, user.actor_name, role, created)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    next_path: str


def begin(session: Session, next_path: str) -> PendingSignIn:
    """A new sign-in: random state, nonce and PKCE verifier (256 bits each)."""
    pending = PendingSignIn(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(64),
        next_path=next_path,
    )
    now = utcnow()
    session.execute(delete(OidcSignIn).where(OidcSignIn.expires_at < now - timedelta(days=1)))
    live = select(func.count()).where(OidcSignIn.expires_at > now, OidcSignIn.used_at.is_(None))
    if (session.scalar(live) or 0) >= MAX_PENDING:
        raise TooManySignIns(f"{MAX_PENDING} sign-ins are under way")
    session.add(
        OidcSignIn(
            state_hash=_hash(pending.state), nonce=pending.nonce,
            code_verifier=pending.code_verifier, next_path=next_path, created_at=now,
            expires_at=now + timedelta(minutes=SIGN_IN_MINUTES),
        )
    )  # fmt: skip
    session.flush()
    return pending


def claim_sign_in(session: Session, state: str) -> PendingSignIn | None:
    """The sign-in this state started, marked used in the same statement: a second callback
    with the same state (a replay) finds nothing, and so does one past its time."""
    now = utcnow()
    result = session.execute(
        update(OidcSignIn)
        .where(
            OidcSignIn.state_hash == _hash(state),
            OidcSignIn.used_at.is_(None),
            OidcSignIn.expires_at > now,
        )
        .values(used_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]  # a CursorResult at run time
        return None
    row = session.scalar(select(OidcSignIn).where(OidcSignIn.state_hash == _hash(state)))
    assert row is not None
    return PendingSignIn(state, row.nonce, row.code_verifier, row.next_path)


def refusal_actor(claims: Mapping[str, Any] | None, base: audit.Actor) -> audit.Actor:
    """Who a refused sign-in was: the person the provider vouched for, or anonymous."""
    if claims is None:
        return base
    return audit.Actor(display_name(claims), None, base.request_id, base.client_addr)
