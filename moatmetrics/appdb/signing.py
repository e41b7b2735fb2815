"""The installation's signing key: a secret that lives outside the app database.

Why a key outside the database: whoever can write the app database (a leaked PostgreSQL
password, a copied `app.db`) can rebuild a hash chain, but cannot compute an HMAC without this
key. The audit log signs every entry and its checkpoints with it (`audit.py`,
`checkpoints.py`); other features that need a server-side secret (SSO state, TOTP secrets,
signed console tokens) derive their own sub-key with `derive("purpose")`, so one secret is
kept, backed up and rotated in one place and no two features can forge each other's MACs.

The key is 32 random bytes, hex-encoded in `$MOATMETRICS_HOME/secrets/signing.key` (or
`MOATMETRICS_SIGNING_KEY_FILE`), created on first use with mode 0600 in a 0700 folder. Every
process of one installation (API workers, pipeline runs, the CLI) must read the same file; on
several hosts, copy it to each. Losing it makes existing signatures unverifiable (verify then
reports them as not signed by this installation); it is never logged or stored in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from moatmetrics.settings import Settings

KEY_BYTES = 32
_cache: dict[Path, SigningKey] = {}
_cache_lock = threading.Lock()


class SigningKeyError(RuntimeError):
    """The key file exists but cannot be used; the message names the file and the fix."""


class SigningKey:
    """An HMAC-SHA256 key; `derive` gives independent sub-keys per purpose."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < KEY_BYTES:
            raise ValueError("a signing key has at least 32 bytes")
        self._secret = secret

    def derive(self, purpose: str) -> SigningKey:
        """A sub-key for one purpose (`audit-entry`, `audit-checkpoint`, `totp`...)."""
        return SigningKey(self._mac(b"moatmetrics-key:" + purpose.encode("utf-8")))

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def sign(self, message: str | bytes) -> str:
        data = message.encode("utf-8") if isinstance(message, str) else message
        return self._mac(data).hex()

    def verify(self, message: str | bytes, mac: str | None) -> bool:
        return bool(mac) and hmac.compare_digest(self.sign(message), str(mac))

    def __repr__(self) -> str:  # never print the secret
        return "SigningKey(...)"


def _create(path: Path) -> None:
    """Write a new key without ever replacing one another process wrote first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and fails if the key already exists
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _load(path: Path) -> SigningKey:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = bytes.fromhex(text)
        return SigningKey(secret)
    except ValueError:
        raise SigningKeyError(
            f"the signing key {path} is not {KEY_BYTES * 2} hex characters; restore it from"
            " your backup of the secrets folder"
        ) from None


def signing_key(settings: Settings) -> SigningKey:
    """The installation's key (created on first use), cached per process."""
    path = settings.signing_key_path
    with _cache_lock:
        key = _cache.get(path)
        if key is None:
            if not path.exists():
                _create(path)
            key = _cache[path] = _load(path)
    return key
