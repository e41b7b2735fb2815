"""A second factor for admin keys in the console: TOTP (RFC 6238) and recovery codes.

Why: an admin key pasted into a browser can be phished or shoulder-surfed, and an admin
session can read the whole audit log. Signing in to the console with an admin key therefore
also takes a 6-digit code from an authenticator app. Machines calling the API with a key are
not asked (they have no app), and single sign-on leaves the second factor to the provider.

Stored per admin key (`TotpEnrolment`):
- the secret, encrypted with AES-GCM under a sub-key of the installation's signing key
  (`derive("totp")`, outside the app database) and bound to the key id, so a copy of the
  database alone yields no secret and a secret cannot be moved to another key;
- ten single-use recovery codes, as HMACs under the same sub-key (not guessable offline);
- the last time step used: a code works once (RFC 6238 section 5.2);
- failed attempts: after `MAX_FAILURES` in a row the key's second factor is locked for
  `LOCK_MINUTES`, right or wrong codes alike.

A code is accepted for the current 30-second step and one step either side (clock drift).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from moatmetrics.appdb.models import TotpEnrolment, utcnow
from moatmetrics.appdb.signing import signing_key
from moatmetrics.settings import Settings

ISSUER = "MoatMetrics"
VALID_WINDOW = 1
MAX_FAILURES = 5
LOCK_MINUTES = 15
RECOVERY_CODES = 10


class TotpError(RuntimeError):
    """The stored secret cannot be opened (the signing key changed); the message says why."""


def _sub_key(settings: Settings) -> bytes:
    return bytes.fromhex(signing_key(settings).derive("totp").sign(b"aes-256-gcm"))


def _aad(key_id: int) -> bytes:
    return f"moatmetrics-totp-key:{key_id}".encode()


def seal(settings: Settings, key_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    box = AESGCM(_sub_key(settings)).encrypt(nonce, secret.encode("ascii"), _aad(key_id))
    return base64.b64encode(nonce + box).decode("ascii")


def unseal(settings: Settings, key_id: int, box: str) -> str:
    raw = base64.b64decode(box)
    try:
        return AESGCM(_sub_key(settings)).decrypt(raw[:12], raw[12:], _aad(key_id)).decode()
    except InvalidTag:
        raise TotpError(
            f"the second factor of key {key_id} cannot be opened with this installation's"
            " signing key (was the key file replaced?); revoke the key and create a new one"
        ) from None


def _recovery_hash(settings: Settings, code: str) -> str:
    normal = code.strip().replace("-", "").replace(" ", "").lower()
    return signing_key(settings).derive("totp").sign("recovery:" + normal)


def _new_recovery_codes() -> list[str]:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))  # ~49 bits each
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def enrolled(session: Session, key_id: int) -> bool:
    row = session.get(TotpEnrolment, key_id)
    return row is not None and row.confirmed_at is not None


def begin_enrolment(session: Session, settings: Settings, key_id: int) -> str:
    """A new secret for a key that has not enrolled (replacing an unconfirmed one)."""
    row = session.get(TotpEnrolment, key_id)
    if row is not None and row.confirmed_at is not None:
        raise ValueError(f"key {key_id} has already enrolled a second factor")
    secret = pyotp.random_base32()
    if row is None:
        row = TotpEnrolment(key_id=key_id, failures=0, recovery_hashes="[]", created_at=utcnow())
        session.add(row)
    row.secret_box = seal(settings, key_id, secret)
    session.flush()
    return secret


def pending_secret(session: Session, settings: Settings, key_id: int) -> str | None:
    """The secret of an enrolment not yet confirmed (the QR code shown again on reload)."""
    row = session.get(TotpEnrolment, key_id)
    if row is None or row.confirmed_at is not None:
        return None
    return unseal(settings, key_id, row.secret_box)


def provisioning_uri(secret: str, key_name: str) -> str:
    """What the QR code holds: otpauth://totp/MoatMetrics:<key name>?secret=..."""
    return pyotp.TOTP(secret).provisioning_uri(name=key_name, issuer_name=ISSUER)


@dataclass(frozen=True)
class Check:
    """`outcome`: ok | recovery (a recovery code, now spent) | wrong | reused | locked |
    not_enrolled; `recovery_codes` only when an enrolment was just confirmed."""

    outcome: str
    locked_until: datetime | None = None
    recovery_codes: tuple[str, ...] = ()
    recovery_left: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome in ("ok", "recovery")


def _fail(row: TotpEnrolment, outcome: str, now: datetime) -> Check:
    row.failures += 1
    if row.failures >= MAX_FAILURES:
        row.failures = 0
        row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        return Check("locked", row.locked_until)
    return Check(outcome)


def check_code(session: Session, settings: Settings, key_id: int, code: str) -> Check:
    """Check a code (or a recovery code) for the key; confirms a pending enrolment.

    The caller holds a write transaction: the failure count, the lock, the used step and the
    spent recovery code are written with the audit entry of the attempt.
    """
    row = session.get(TotpEnrolment, key_id)
    if row is None:
        return Check("not_enrolled")
    now = utcnow()
    if row.locked_until is not None and row.locked_until > now:
        return Check("locked", row.locked_until)
    code = code.strip().replace(" ", "")
    if code.isdigit():
        totp = pyotp.TOTP(unseal(settings, key_id, row.secret_box))
        try:
            step = totp.verify_and_get_timecode(code, for_time=now, valid_window=VALID_WINDOW)
        except pyotp.OTPVerificationError:
            return _fail(row, "wrong", now)
        if row.last_step is not None and step <= row.last_step:
            return _fail(row, "reused", now)
        row.last_step, row.failures, row.locked_until = step, 0, None
        if row.confirmed_at is None:  # the first code proves the app holds the secret
            row.confirmed_at = now
            codes = _new_recovery_codes()
            row.recovery_hashes = json.dumps([_recovery_hash(settings, c) for c in codes])
            return Check("ok", recovery_codes=tuple(codes))
        return Check("ok")
    hashes: list[str] = json.loads(row.recovery_hashes)
    digest = _recovery_hash(settings, code)
    if row.confirmed_at is None or digest not in hashes:
        return _fail(row, "wrong", now)
    hashes.remove(digest)
    row.recovery_hashes = json.dumps(hashes)
    row.failures, row.locked_until = 0, None
    return Check("recovery", recovery_left=len(hashes))
