"""Signed checkpoints of the audit log's head, kept outside the app database.

The chain in the database proves that nothing was edited *between* entries; it cannot prove
that the newest entries still exist when someone deletes them and rewrites `audit_head` too,
nor that an app database is not a fresh, empty replacement. So after every commit that appended
audit entries, the writer (API worker, pipeline, CLI) advances this checkpoint: the highest
`seq` and its `entry_hash`, signed with the installation's key (`signing.py`). `audit verify`
then requires the database to contain that entry with that hash.

One small JSON file, replaced atomically under a lock file (so several processes may advance
it at once and it only ever moves forward) rather than a growing log: its size stays constant
however long the API runs. It is written after the database commit, so it never names an
entry that is not durable; a crash in between leaves it one commit behind, never ahead.

`unsigned_until` is the last entry written before entries were signed (an installation
upgraded from a version without signatures): those are accepted without a signature.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from moatmetrics.appdb.signing import signing_key
from moatmetrics.settings import Settings

PURPOSE = "audit-checkpoint"
log = logging.getLogger("moatmetrics.audit")


class CheckpointError(RuntimeError):
    """The checkpoint file is unreadable or its signature is wrong (altered by hand)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    entry_hash: str
    unsigned_until: int
    written_at: str

    def payload(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def read(settings: Settings) -> Checkpoint | None:
    """The newest checkpoint, or None when none was ever written; raises if tampered."""
    path = settings.audit_checkpoint_path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        mac = data.pop("mac")
        checkpoint = Checkpoint(**data)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"the audit checkpoint {path.name} cannot be read ({exc})") from exc
    if not signing_key(settings).derive(PURPOSE).verify(checkpoint.payload(), mac):
        raise CheckpointError(
            f"the audit checkpoint {path.name} is not signed by this installation's key"
            " (edited by hand, or the signing key was replaced)"
        )
    return checkpoint


def advance(
    settings: Settings,
    first_seq: int,
    seq: int,
    entry_hash: str,
    hash_at: Callable[[int], str | None],
) -> None:
    """Record that entries up to `seq` (hash `entry_hash`) are committed; never moves back.

    `first_seq` is the first entry this commit appended: when no checkpoint exists yet, every
    entry before it predates signing. `hash_at(seq)` reads an entry's hash from the database:
    the checkpoint only moves on if the entry it names is still there, unchanged. Otherwise
    the log was cut or rewritten below it, and moving on would bless the new chain; it stays
    put as evidence for `audit verify`.
    """
    path = settings.audit_checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            current = read(settings)
        except CheckpointError:
            return  # keep the evidence: verify reports it; never overwrite a tampered file
        if current is not None and current.seq >= seq:
            return
        if current is not None and hash_at(current.seq) != current.entry_hash:
            log.error(
                "audit log tampered with: entry %s no longer matches the signed checkpoint;"
                " the checkpoint is kept (run moatmetrics audit verify)",
                current.seq,
            )
            return
        unsigned_until = current.unsigned_until if current else max(first_seq - 1, 0)
        written_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        checkpoint = Checkpoint(seq, entry_hash, unsigned_until, written_at)
        mac = signing_key(settings).derive(PURPOSE).sign(checkpoint.payload())
        body = json.dumps({**asdict(checkpoint), "mac": mac}, sort_keys=True) + "\n"
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body.encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        os.close(lock_fd)  # releases the lock


def exists(settings: Settings) -> bool:
    return Path(settings.audit_checkpoint_path).exists()
