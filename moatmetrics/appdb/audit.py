"""The audit log: append-only, hash-chained, safe with several writing processes.

Each entry stores ``prev_hash`` (the previous entry's hash) and ``entry_hash`` = SHA-256 of
the canonical JSON of its own fields plus ``prev_hash``. Editing an entry breaks its hash;
deleting one leaves a gap in ``seq`` and breaks the next link; deleting the newest ones is seen
by comparing with ``audit_head``, the single row that always names the last link.

Appends serialise on that head row: ``SELECT ... FOR UPDATE`` on PostgreSQL, and on SQLite
the write session's ``BEGIN IMMEDIATE`` (only one writer at a time). ``seq`` is assigned as
head + 1 under that lock rather than by a sequence, so a rolled-back append leaves no gap that
would look like a deletion. An append joins the caller's transaction: a decision and its audit
entry commit together or not at all.

Someone who can write the database could rebuild the whole chain, forge an entry with a
correct hash, or cut the newest entries and rewrite the head. Two things they cannot reach
stop that (docs/security.md): every entry carries ``entry_mac``, an HMAC of its hash with the
installation's signing key (kept outside the database, `signing.py`), and after each commit
the writer advances a signed checkpoint of the head in a file (`checkpoints.py`) that verify
requires the database to still contain.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from moatmetrics.appdb import checkpoints
from moatmetrics.appdb.db import AFTER_COMMIT, session_scope
from moatmetrics.appdb.models import AuditEntry, AuditHead
from moatmetrics.appdb.signing import SigningKey, signing_key
from moatmetrics.canonical import canonical_json
from moatmetrics.formulas import SafeCsvWriter
from moatmetrics.settings import Settings, get_settings

ENTRY_PURPOSE = "audit-entry"
log = logging.getLogger("moatmetrics.audit")

GENESIS_HASH = "0" * 64
PIPELINE_ACTOR = "pipeline"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "role",
    "action",
    "target",
    "outcome",
    "status",
    "request_id",
    "client_addr",
    "details",
)
EXPORT_FIELDS = (*HASHED_FIELDS, "prev_hash", "entry_hash")


def format_time(moment: datetime) -> str:
    """Fixed-width UTC text: sorts like time and hashes identically on every engine.

    A time without a zone is taken as UTC (the zone of every stored entry).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: copied into every entry they cause."""

    name: str
    role: str | None = None
    request_id: str | None = None
    client_addr: str | None = None


PIPELINE = Actor(PIPELINE_ACTOR, role=None)


def compute_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    payload = canonical_json({**{name: fields[name] for name in HASHED_FIELDS}, "prev": prev_hash})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    session: Session,
    actor: Actor,
    action: str,
    outcome: str,
    target: str | None = None,
    status: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's (write) transaction."""
    if not session.info.get("write"):
        raise RuntimeError(
            "audit entries are appended in a write session (session_scope(write=True))"
        )
    # Locked once per transaction: a group commit appends many entries under one lock.
    head = session.info.get("audit_head_row")
    if head is None:
        head = session.execute(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()
        ).scalar_one()
        session.info["audit_head_row"] = head
    fields: dict[str, Any] = {
        "seq": head.seq + 1,
        "occurred_at": format_time(datetime.now(UTC)),
        "actor": actor.name,
        "role": actor.role,
        "action": action,
        "target": target,
        "outcome": outcome,
        "status": status,
        "request_id": actor.request_id,
        "client_addr": actor.client_addr,
        "details": canonical_json(dict(details or {})),
    }
    entry = AuditEntry(**fields, prev_hash=head.entry_hash, entry_hash="")
    entry.entry_hash = compute_hash(fields, head.entry_hash)
    settings = session.info.get("settings") or get_settings()
    entry.entry_mac = _entry_key(settings).sign(entry.entry_hash)
    session.add(entry)
    head.seq = entry.seq
    head.entry_hash = entry.entry_hash
    session.flush()
    # After the commit, `session_scope` advances the signed checkpoint to this head.
    session.info.setdefault("audit_first_seq", entry.seq)
    session.info["audit_head"] = (entry.seq, entry.entry_hash)
    session.info[AFTER_COMMIT] = checkpoint_committed
    return entry


def _entry_key(settings: Settings) -> SigningKey:
    return signing_key(settings).derive(ENTRY_PURPOSE)


def checkpoint_committed(session: Session) -> None:
    """Advance the signed checkpoint to the head this (committed) session appended."""
    head = session.info.pop("audit_head", None)
    first = session.info.pop("audit_first_seq", None)
    if head is None:
        return
    settings = session.info.get("settings") or get_settings()
    try:
        checkpoints.advance(settings, first, head[0], head[1], lambda seq: _hash_at(settings, seq))
    except Exception:  # the entries are committed: never fail (or retry) their requests now
        log.exception("could not advance the audit checkpoint to entry %s", head[0])


def _hash_at(settings: Settings, seq: int) -> str | None:
    with session_scope(settings) as session:
        return session.scalar(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq))


def record(
    settings: Settings | None,
    actor: Actor,
    action: str,
    outcome: str,
    target: str | None = None,
    status: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in its own transaction (pipeline events, data reads)."""
    with session_scope(settings, write=True) as session:
        return append(session, actor, action, outcome, target, status, details)


def record_pipeline_event(
    action: str,
    outcome: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> AuditEntry:
    """Pipeline events (ingest, checks, publish) under the actor ``pipeline``."""
    return record(settings, PIPELINE, action, outcome, target, None, details)


def entry_dict(entry: AuditEntry) -> dict[str, Any]:
    """The entry as exported: details parsed back into an object."""
    data = {name: getattr(entry, name) for name in EXPORT_FIELDS}
    data["details"] = json.loads(entry.details)
    return data


@dataclass(frozen=True)
class AuditFilter:
    """`actor` matches exactly; `action` and `target` match as prefixes; times are inclusive."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def filtered(query: Select[Any], flt: AuditFilter) -> Select[Any]:
    if flt.actor is not None:
        query = query.where(AuditEntry.actor == flt.actor)
    if flt.action is not None:
        query = query.where(AuditEntry.action.like(_like_prefix(flt.action), escape="\\"))
    if flt.target is not None:
        query = query.where(AuditEntry.target.like(_like_prefix(flt.target), escape="\\"))
    if flt.since is not None:
        query = query.where(AuditEntry.occurred_at >= format_time(flt.since))
    if flt.until is not None:
        query = query.where(AuditEntry.occurred_at <= format_time(flt.until))
    return query


def iter_entries(session: Session, flt: AuditFilter, batch: int = 1000) -> Iterator[AuditEntry]:
    """Matching entries in chain order, fetched in batches (exports of any size)."""
    last = 0
    while True:
        rows = session.scalars(
            filtered(select(AuditEntry), flt)
            .where(AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].seq


@dataclass
class VerifyReport:
    valid: bool
    entries_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None


def verify(settings: Settings | None = None, batch: int = 5000) -> VerifyReport:
    """Walk the chain in order; report the first entry whose content, link, signature or
    position is wrong, then hold the result against the signed checkpoint outside the database.

    Entries appended while the walk runs (after the head was read) are checked like the
    others; the head only has to match the entry it names.
    """
    settings = settings or get_settings()
    try:
        checkpoint = checkpoints.read(settings)
    except checkpoints.CheckpointError as exc:
        return VerifyReport(False, 0, -1, "", None, str(exc))
    key = _entry_key(settings)
    unsigned_until = checkpoint.unsigned_until if checkpoint else None
    hash_at_checkpoint = None
    with session_scope(settings) as session:
        head = session.get(AuditHead, 1)
        if head is None:
            return VerifyReport(False, 0, -1, "", 0, "the audit head row is missing")
        head_seq, head_hash = head.seq, head.entry_hash
        expected, prev, checked = 1, GENESIS_HASH, 0
        hash_at_head = GENESIS_HASH if head_seq == 0 else None
        for entry in iter_entries(session, AuditFilter(), batch):
            checked += 1
            problem = _check(entry, expected, prev) or _check_mac(entry, key, unsigned_until)
            if problem:
                seq, reason = problem
                return VerifyReport(False, checked, head_seq, head_hash, seq, reason)
            expected, prev = entry.seq + 1, entry.entry_hash
            if entry.seq == head_seq:
                hash_at_head = entry.entry_hash
            if checkpoint is not None and entry.seq == checkpoint.seq:
                hash_at_checkpoint = entry.entry_hash
    last_seq = expected - 1
    if checkpoint is not None and checkpoint.seq > max(last_seq, head_seq):
        reason = (
            f"entries {last_seq + 1}..{checkpoint.seq} are missing: the signed checkpoint shows"
            f" entry {checkpoint.seq} was written (log truncated, or the app database was"
            " replaced or deleted)"
        )
        return VerifyReport(False, checked, head_seq, head_hash, last_seq + 1, reason)
    if last_seq < head_seq:
        reason = f"entries {last_seq + 1}..{head_seq} are missing (the log was truncated)"
        return VerifyReport(False, checked, head_seq, head_hash, last_seq + 1, reason)
    if hash_at_head != head_hash:
        reason = f"the audit head does not match entry {head_seq} (head or entry rewritten)"
        return VerifyReport(False, checked, head_seq, head_hash, max(head_seq, 1), reason)
    if checkpoint is not None and hash_at_checkpoint != checkpoint.entry_hash:
        reason = f"entry {checkpoint.seq} differs from the signed checkpoint (chain rewritten)"
        return VerifyReport(False, checked, head_seq, head_hash, checkpoint.seq, reason)
    if checkpoint is None and last_seq > 0 and _any_signed(settings):
        reason = (
            f"the signed checkpoint ({settings.audit_checkpoint_path.name}) is missing although"
            " the log holds signed entries: restore it from the backup taken with the database"
        )
        return VerifyReport(False, checked, head_seq, head_hash, None, reason)
    return VerifyReport(True, checked, head_seq, head_hash)


def _any_signed(settings: Settings) -> bool:
    with session_scope(settings) as session:
        return (
            session.scalar(select(AuditEntry.seq).where(AuditEntry.entry_mac.is_not(None)).limit(1))
            is not None
        )


def _check(entry: AuditEntry, expected: int, prev: str) -> tuple[int, str] | None:
    if entry.seq != expected:
        return expected, f"entry {expected} is missing (deleted); the next entry is {entry.seq}"
    if entry.prev_hash != prev:
        return entry.seq, f"entry {entry.seq} does not link to entry {entry.seq - 1}"
    fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    if compute_hash(fields, entry.prev_hash) != entry.entry_hash:
        return entry.seq, f"entry {entry.seq} was modified: its content does not match its hash"
    return None


def _check_mac(
    entry: AuditEntry, key: SigningKey, unsigned_until: int | None
) -> tuple[int, str] | None:
    """Entries after signing began must carry this installation's signature."""
    if entry.entry_mac is None:
        if unsigned_until is None or entry.seq <= unsigned_until:
            return None  # written before this installation signed entries
        return entry.seq, (
            f"entry {entry.seq} is not signed: it was not written by MoatMetrics (added with"
            " access to the database only)"
        )
    if not key.verify(entry.entry_hash, entry.entry_mac):
        return entry.seq, (
            f"entry {entry.seq} has a wrong signature: it was not written by MoatMetrics"
            " (forged with access to the database only), or the signing key was replaced"
        )
    return None


def export_lines(settings: Settings | None, flt: AuditFilter, fmt: str) -> Iterator[str]:
    """The export (CSV or JSON Lines) of the matching entries in chain order, batch by batch.

    The one export of the audit log: the API, the console and `moatmetrics audit export` all
    stream these lines (the session lives in the generator).
    """
    with session_scope(settings) as session:
        if fmt == "csv":
            buffer = io.StringIO()
            writer = SafeCsvWriter(buffer, lineterminator="\n")
            writer.writerow(EXPORT_FIELDS)
            for entry in iter_entries(session, flt):
                writer.writerow(getattr(entry, name) for name in EXPORT_FIELDS)
                if buffer.tell() > 65536:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()
        else:
            for entry in iter_entries(session, flt):
                yield json.dumps(entry_dict(entry), ensure_ascii=False) + "\n"
