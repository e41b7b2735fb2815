"""Encryption at rest (opt-in): one key file locks the warehouse, every snapshot and the archive.

Why one key, in a file outside the home: a stolen copy of the home (a laptop, a backup disk)
must hold nothing readable, and an operator must have one thing to keep safe and rotate. Set
``MOATMETRICS_ENCRYPTION_KEY_FILE`` to a file made by ``moatmetrics encryption new-key``: 32
random bytes as base64url text, mode 0600, read when needed and never logged.

- The DuckDB files (warehouse, snapshots) use DuckDB's own database encryption (AES-GCM-256,
  DuckDB derives its cipher key from the key text), so a SQL user or BI tool opens a snapshot
  with plain DuckDB: ``ATTACH 'snap.duckdb' AS snap (ENCRYPTION_KEY '<key text>', READ_ONLY)``.
  Opening them is `moatmetrics.at_rest.duckdb_files`.
- The upload archive uses AES-256-GCM (``cryptography``) under a key derived from the same
  text with HKDF, so the two uses never share a cipher key. A file is ``MAGIC``, the key's id,
  a random nonce, the ciphertext and the GCM tag: a changed byte or a wrong key is refused.

While ``moatmetrics encryption rotate`` runs, the next key waits beside the key file
(``<key file>.next``) and both open files, so readers keep working mid-rotation.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from moatmetrics.settings import Settings

KEY_FILE_ENV = "MOATMETRICS_ENCRYPTION_KEY_FILE"
NEXT_KEY_SUFFIX = ".next"
MAGIC = b"MMENC1\x00"
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = len(MAGIC) + _KEY_ID_BYTES + _NONCE_BYTES
_CHUNK = 1 << 20
ARCHIVE_MODE = stat.S_IRUSR | stat.S_IRGRP  # archived uploads are read-only (0440)


class EncryptionError(RuntimeError):
    """Encrypted data cannot be read or written; the message names the file and the fix."""


@dataclass(frozen=True)
class AtRestKey:
    """One key: its text (DuckDB's ENCRYPTION_KEY) and the file it was read from."""

    text: str
    source: Path | None = None

    def _derive(self, purpose: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            self.text.encode("ascii")
        )

    @cached_property
    def key_id(self) -> bytes:
        """Names the key in archive headers without revealing it (HKDF, its own purpose)."""
        return self._derive(b"moatmetrics key id")[:_KEY_ID_BYTES]

    @cached_property
    def archive_key(self) -> bytes:
        return self._derive(b"moatmetrics upload archive")

    def __repr__(self) -> str:  # never the key text, in a log or a traceback
        return f"AtRestKey(id={self.key_id.hex()}, source={self.source})"


def new_key_text() -> str:
    """32 bytes from the operating system's CSPRNG, as unpadded base64url text."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode("ascii")


def write_key_file(path: Path, text: str | None = None) -> AtRestKey:
    """Create `path` (never overwrite) holding a key, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = text or new_key_text()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")
    return AtRestKey(text, path)


def read_key_file(path: Path) -> AtRestKey:
    """The key in `path`, checked: 32 bytes of base64url text (`moatmetrics encryption new-key`)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise EncryptionError(
            f"encryption key file {path} does not exist: make one with `moatmetrics encryption"
            f" new-key {path}` or point {KEY_FILE_ENV} at the existing key"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EncryptionError(f"cannot read encryption key file {path}: {exc}") from None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32 or any(c in text for c in "'\"\\ "):
        raise EncryptionError(
            f"encryption key file {path} does not hold a key (32 bytes as base64url text):"
            f" make one with `moatmetrics encryption new-key FILE`"
        )
    return AtRestKey(text, path)


def next_key_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + NEXT_KEY_SUFFIX)


def configured_keys(settings: Settings) -> list[AtRestKey]:
    """The keys that open this home's files: none when encryption is off; the configured key,
    and during a rotation the next one too."""
    if settings.encryption_key_file is None:
        return []
    keys = [read_key_file(settings.encryption_key_file)]
    pending = next_key_path(settings.encryption_key_file)
    if pending.exists():
        keys.append(read_key_file(pending))
    return keys


def encryption_on(settings: Settings) -> bool:
    return settings.encryption_key_file is not None


# -- the upload archive ------------------------------------------------------------------


def archived_key_id(path: Path) -> bytes | None:
    """The id of the key an archived file is encrypted with, or None for a plain file."""
    with path.open("rb") as handle:
        head = handle.read(len(MAGIC) + _KEY_ID_BYTES)
    if not head.startswith(MAGIC) or len(head) < len(MAGIC) + _KEY_ID_BYTES:
        return None
    return head[len(MAGIC) :]


class _EncryptingWriter:
    """A binary sink that AES-GCM-encrypts what is written to it into `target`."""

    def __init__(self, target: BinaryIO, key: AtRestKey) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        nonce = os.urandom(_NONCE_BYTES)
        header = MAGIC + key.key_id + nonce
        self._target = target
        self._encryptor = Cipher(algorithms.AES(key.archive_key), modes.GCM(nonce)).encryptor()
        self._encryptor.authenticate_additional_data(header)
        target.write(header)

    def write(self, chunk: bytes) -> int:
        return self._target.write(self._encryptor.update(chunk))

    def finish(self) -> None:
        self._target.write(self._encryptor.finalize())
        self._target.write(self._encryptor.tag)


def _decrypt_stream(
    path: Path, target: BinaryIO | _EncryptingWriter, keys: list[AtRestKey]
) -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    size = path.stat().st_size
    with path.open("rb") as source:
        header = source.read(_HEADER_BYTES)
        key_id = header[len(MAGIC) : len(MAGIC) + _KEY_ID_BYTES]
        key = next((k for k in keys if k.key_id == key_id), None)
        if key is None or size < _HEADER_BYTES + _TAG_BYTES:
            raise EncryptionError(
                f"archived upload {path} is encrypted with another key (id {key_id.hex()}):"
                f" set {KEY_FILE_ENV} to the key it was archived with"
            )
        source.seek(size - _TAG_BYTES)
        tag = source.read(_TAG_BYTES)
        source.seek(_HEADER_BYTES)
        nonce = header[-_NONCE_BYTES:]
        decryptor = Cipher(algorithms.AES(key.archive_key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(header)
        left = size - _HEADER_BYTES - _TAG_BYTES
        while left > 0:
            chunk = source.read(min(_CHUNK, left))
            left -= len(chunk)
            target.write(decryptor.update(chunk))
        try:
            target.write(decryptor.finalize())
        except InvalidTag:
            raise EncryptionError(
                f"archived upload {path} failed its integrity check (changed or damaged since"
                " it was archived): restore it from a backup"
            ) from None


@contextmanager
def _replacing(target: Path) -> Iterator[BinaryIO]:
    """Write `target` through a `.part` file: a crash leaves the old file or none, never half."""
    tmp = target.with_name(target.name + ".part")
    try:
        with tmp.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, ARCHIVE_MODE)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def archive_file(source: Path, target: Path, settings: Settings) -> None:
    """Put `source` into the archive as `target`: encrypted under the configured key when
    encryption is on, else a plain copy; read-only either way."""
    keys = configured_keys(settings)
    with source.open("rb") as plain, _replacing(target) as out:
        if keys:
            sink = _EncryptingWriter(out, keys[-1])
            while chunk := plain.read(_CHUNK):
                sink.write(chunk)
            sink.finish()
        else:
            while chunk := plain.read(_CHUNK):
                out.write(chunk)


def read_archived_file(
    path: Path, target: BinaryIO | _EncryptingWriter, settings: Settings
) -> None:
    """Write the original bytes of archived `path` to `target` (decrypting when encrypted);
    an encrypted file read without its key, or changed since, is refused."""
    if archived_key_id(path) is None:
        with path.open("rb") as plain:
            while chunk := plain.read(_CHUNK):
                target.write(chunk)
        return
    keys = configured_keys(settings)
    if not keys:
        raise EncryptionError(
            f"archived upload {path} is encrypted: set {KEY_FILE_ENV} to its key file"
        )
    _decrypt_stream(path, target, keys)


def reencrypt_archived_file(path: Path, settings: Settings, new_key: AtRestKey) -> bool:
    """Rewrite archived `path` under `new_key` (from plain or the configured key), streaming:
    no plaintext touches the disk, and a file that fails its check is left as it was. False
    when it already is under `new_key`."""
    if archived_key_id(path) == new_key.key_id:
        return False
    mode = stat.S_IMODE(path.stat().st_mode)
    with _replacing(path) as out:
        sink = _EncryptingWriter(out, new_key)
        read_archived_file(path, sink, settings)
        sink.finish()
    os.chmod(path, mode)
    return True
