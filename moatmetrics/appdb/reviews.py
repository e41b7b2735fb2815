"""The review queue: flagged mart rows, reviewers' decisions, and re-review on change.

An item is one mart row (``mart`` + ``row_key``). Its ``content_hash`` is the SHA-256 of the
row's canonical JSON, and every decision stores the hash it was made on: when a later run
produces different numbers for the same row, `sync_review_items` reopens the item, so an
approval never silently carries over to numbers nobody has seen. Decisions are never deleted;
the history of an item is the list of its decisions.

An open item whose row is no longer flagged (its confidence rose above the threshold, or the
row left the mart) is marked ``resolved`` by the next sync: nobody has to review it any more.
It reopens if the row is flagged again. Decided items keep their decision.

``snapshot_id`` names the newest snapshot that publishes the numbers an item shows. The
pipeline syncs before it publishes, so the rows it flags have none until the publish names its
snapshot on them (`stamp_published`); after a failed run they stay without one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, Select, func, insert, select, update
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import ReviewDecision, ReviewItem, utcnow
from moatmetrics.canonical import canonical_json
from moatmetrics.settings import Settings

STATUSES = ("open", "approved", "rejected", "resolved")
DECISIONS = ("approved", "rejected")
_CHUNK = 500


class ReviewConflict(RuntimeError):
    """The item's content changed since the reviewer looked at it."""


def content_hash(row: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(row)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SyncSummary:
    created: int = 0
    reopened: int = 0
    unchanged: int = 0
    resolved: int = 0
    #: row_key -> status of every synced item as the sync left it (open, or a reviewer's
    #: decision that still holds): the trust tables carry it, with no second read.
    statuses: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def counts(self) -> dict[str, int]:
        """The four counts, as the audit entry and the run's metadata report them."""
        return {
            "created": self.created,
            "reopened": self.reopened,
            "unchanged": self.unchanged,
            "resolved": self.resolved,
        }


def _load_existing(session: Session, mart: str, keys: list[str]) -> dict[str, tuple[int, str, str]]:
    """row_key -> (id, content_hash, status) of the items of `mart` among `keys`."""
    found: dict[str, tuple[int, str, str]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        query = select(
            ReviewItem.row_key, ReviewItem.id, ReviewItem.content_hash, ReviewItem.status
        ).where(ReviewItem.mart == mart, ReviewItem.row_key.in_(chunk))
        found.update(
            {
                key: (item_id, digest, status)
                for key, item_id, digest, status in session.execute(query)
            }
        )
    return found


def _resolve_unflagged(session: Session, mart: str, flagged: set[str]) -> int:
    """Mark open items of `mart` whose row is not flagged any more as resolved."""
    stale = [
        item_id
        for item_id, key in session.execute(
            select(ReviewItem.id, ReviewItem.row_key).where(
                ReviewItem.mart == mart, ReviewItem.status == "open"
            )
        )
        if key not in flagged
    ]
    now = utcnow()
    for start in range(0, len(stale), _CHUNK):
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id.in_(stale[start : start + _CHUNK]))
            .values(status="resolved", updated_at=now)
        )
    return len(stale)


def _stored_subject(subject: Any) -> str | None:
    """A subject as an item stores it (its column holds 255 characters)."""
    return None if subject is None else str(subject)[:255]


def _content(entry: Mapping[str, Any], digest: str, snapshot_id: str | None) -> dict[str, Any]:
    """The columns an entry sets on its item (all but status and the key)."""
    row = dict(entry["row"])
    confidence = entry.get("confidence", row.get("confidence"))
    client = entry.get("client_id", row.get("client_id"))
    money = entry.get("money_at_stake")
    subject = entry.get("subject")
    return {
        "content_hash": digest,
        "row_json": canonical_json(row),
        "factors_json": canonical_json(dict(entry.get("factors") or {})),
        "explanation": entry.get("explanation"),
        "confidence": None if confidence is None else float(confidence),
        "client_id": None if client is None else str(client),
        "snapshot_id": entry.get("snapshot_id", snapshot_id),
        "reason_kind": entry.get("reason_kind"),
        "money_at_stake": None if money is None else float(money),
        "subject": _stored_subject(subject),
        "updated_at": utcnow(),
    }


def items_to_keep(
    mart: str, subjects: Mapping[str, str | None], settings: Settings | None = None
) -> set[str]:
    """The keys among `subjects` whose item can be kept as it is: it exists, is not resolved
    and names that subject (row_key -> the subject its entry would set).

    For rows whose numbers the caller knows unchanged since the last sync (the trust layer's
    kept rows): their entries would hash and read as before, so the sync only touches them
    (`sync_review_items(unchanged=...)`) instead of building and writing each entry again.
    """
    keep: set[str] = set()
    keys = list(subjects)
    with session_scope(settings) as session:
        for start in range(0, len(keys), _CHUNK):
            query = select(ReviewItem.row_key, ReviewItem.status, ReviewItem.subject).where(
                ReviewItem.mart == mart, ReviewItem.row_key.in_(keys[start : start + _CHUNK])
            )
            for key, status, subject in session.execute(query):
                if status != "resolved" and subject == _stored_subject(subjects[key]):
                    keep.add(key)
    return keep


def sync_review_items(
    mart: str,
    rows: Iterable[Mapping[str, Any]],
    settings: Settings | None = None,
    *,
    snapshot_id: str | None = None,
    unchanged: Iterable[str] = (),
) -> SyncSummary:
    """Upsert flagged rows of one mart by (mart, row_key); reopen items whose content changed.

    Each row is a mapping with ``row_key`` (str) and ``row`` (the mart row's values, which
    the content hash covers) and optionally ``confidence``, ``factors`` (mapping),
    ``explanation``, ``client_id``, ``snapshot_id``, ``reason_kind``, ``money_at_stake`` and
    ``subject`` (not hashed: derived from the row or naming its entity). Items not in `rows`
    are left as they are; of two rows with one key, the later counts. The sync is audited as
    one ``pipeline.review_sync`` entry. New items are inserted and known ones updated in
    bulk (one statement per batch, not one ORM object per item: a 1m run flags thousands).

    `unchanged` names flagged rows whose entries would be what their items hold
    (`items_to_keep`): they count as unchanged and are only named for the coming publish
    (their snapshot id, as every synced item's), one statement per batch.
    """
    entries = {str(e["row_key"]): e for e in rows}
    kept = [key for key in dict.fromkeys(unchanged) if key not in entries]
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    statuses: dict[str, str] = {}
    reopened = unchanged_count = 0
    with session_scope(settings, write=True) as session:
        existing = _load_existing(session, mart, list(entries))
        for key, entry in entries.items():
            digest = content_hash(entry["row"])
            content = _content(entry, digest, snapshot_id)
            known = existing.get(key)
            if known is None:
                created.append({"mart": mart, "row_key": key, "status": "open", **content})
                statuses[key] = "open"
                continue
            item_id, known_digest, status = known
            if known_digest != digest or status == "resolved":
                content["status"] = "open"
                reopened += 1
            else:
                unchanged_count += 1
            statuses[key] = content.get("status", status)
            changed.append({"id": item_id, **content})
        for start in range(0, len(created), _CHUNK):
            session.execute(insert(ReviewItem), created[start : start + _CHUNK])
        for start in range(0, len(changed), _CHUNK):
            batch = changed[start : start + _CHUNK]
            # Rows of one executemany must name the same columns: reopened ones set status.
            for has_status in (True, False):
                same = [c for c in batch if ("status" in c) == has_status]
                if same:
                    session.execute(update(ReviewItem), same)
        now = utcnow()
        for start in range(0, len(kept), _CHUNK):
            chunk = kept[start : start + _CHUNK]
            where = (ReviewItem.mart == mart, ReviewItem.row_key.in_(chunk))
            session.execute(
                update(ReviewItem).where(*where).values(snapshot_id=snapshot_id, updated_at=now)
            )
            query = select(ReviewItem.row_key, ReviewItem.status).where(*where)
            statuses.update({key: status for key, status in session.execute(query)})
        unchanged_count += len(kept)
        resolved = _resolve_unflagged(session, mart, set(entries) | set(kept))
        summary = SyncSummary(len(created), reopened, unchanged_count, resolved, statuses)
        audit.append(
            session, audit.PIPELINE, "pipeline.review_sync", "ok", target=f"reviews/{mart}",
            details={"snapshot_id": snapshot_id, **summary.counts()},
        )  # fmt: skip
    return summary


def stamp_published(snapshot_id: str, settings: Settings | None = None) -> int:
    """Name `snapshot_id` on every item that waits for its numbers to be published."""
    with session_scope(settings, write=True) as session:
        stamped = cast(
            CursorResult[Any],
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.snapshot_id.is_(None))
                .values(snapshot_id=snapshot_id)
            ),
        )
        return stamped.rowcount or 0


@dataclass(frozen=True)
class ReviewFilter:
    status: str | None = None
    mart: str | None = None
    client_id: str | None = None
    snapshot_id: str | None = None
    reason_kind: str | None = None


#: Orders of the queue: oldest first (the default), the most money at stake first (items
#: without a dollar figure last), the lowest confidence first.
SORTS = {
    "id": (ReviewItem.id,),
    "-money_at_stake": (ReviewItem.money_at_stake.desc().nulls_last(), ReviewItem.id),
    "confidence": (ReviewItem.confidence.asc().nulls_last(), ReviewItem.id),
}


def _filtered(flt: ReviewFilter) -> Select[Any]:
    query = select(ReviewItem)
    for column, value in (
        (ReviewItem.status, flt.status),
        (ReviewItem.mart, flt.mart),
        (ReviewItem.client_id, flt.client_id),
        (ReviewItem.snapshot_id, flt.snapshot_id),
        (ReviewItem.reason_kind, flt.reason_kind),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def list_items(
    session: Session, flt: ReviewFilter, limit: int, offset: int, sort: str = "id"
) -> tuple[int, list[ReviewItem]]:
    query = _filtered(flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(*SORTS[sort]).limit(limit).offset(offset)).all()
    return total, cast(list[ReviewItem], list(items))


def kind_counts(session: Session, flt: ReviewFilter) -> dict[str | None, int]:
    """Items per reason kind under the other filters (the queue's two tabs)."""
    sub = _filtered(dataclasses.replace(flt, reason_kind=None)).subquery()
    query = select(sub.c.reason_kind, func.count()).group_by(sub.c.reason_kind)
    return {cast(str | None, kind): cast(int, count) for kind, count in session.execute(query)}


def clients(session: Session) -> list[tuple[str, str | None]]:
    """The clients that have review items, with their names (for the queue's client filter)."""
    query = (
        select(ReviewItem.client_id, func.max(ReviewItem.subject))
        .where(ReviewItem.client_id.is_not(None), ReviewItem.mart != "staff_utilization")
        .group_by(ReviewItem.client_id)
    )
    rows = [(str(client_id), name) for client_id, name in session.execute(query)]
    return sorted(rows, key=lambda row: ((row[1] or row[0]).lower(), row[0]))


def identity_suggestions(session: Session, item_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The suggested client ({"client_id", "client_name"}) of each open client-identity item
    among `item_ids` that has one: what the queue's one-click confirm offers."""
    ids = list(item_ids)
    if not ids:
        return {}
    query = select(ReviewItem.id, ReviewItem.row_json).where(
        ReviewItem.id.in_(ids), ReviewItem.mart == "client_identity", ReviewItem.status == "open"
    )
    suggestions = {}
    for item_id, row_json in session.execute(query):
        row = parse_json_object(row_json)
        if row.get("suggested_client_id"):
            suggestions[int(item_id)] = {
                "client_id": str(row["suggested_client_id"]),
                "client_name": str(row.get("suggested_client_name") or row["suggested_client_id"]),
            }
    return suggestions


def history(session: Session, item_id: int) -> list[ReviewDecision]:
    query = select(ReviewDecision).where(ReviewDecision.item_id == item_id)
    return list(session.scalars(query.order_by(ReviewDecision.id)))


def decide(
    session: Session,
    actor: audit.Actor,
    item_id: int,
    decision: str,
    comment: str | None,
    expected_hash: str | None = None,
) -> tuple[ReviewItem, ReviewDecision]:
    """Record a decision on the item's current content (audited in the same transaction).

    Raises LookupError (no such item), ValueError (bad decision, rejection without comment)
    or ReviewConflict (`expected_hash` given and the content changed since).
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    comment = (comment or "").strip() or None
    if decision == "rejected" and comment is None:
        raise ValueError("a rejection needs a comment saying what is wrong")
    item = session.get(ReviewItem, item_id, with_for_update=True)
    if item is None:
        raise LookupError(item_id)
    if expected_hash is not None and expected_hash != item.content_hash:
        raise ReviewConflict(
            f"review item {item_id} changed since you read it (content hash now"
            f" {item.content_hash}); read it again and decide on the new numbers"
        )
    record = ReviewDecision(
        item_id=item.id,
        decision=decision,
        comment=comment,
        content_hash=item.content_hash,
        decided_by=actor.name,
    )
    session.add(record)
    item.status = decision
    item.updated_at = utcnow()
    session.flush()
    audit.append(
        session, actor, "reviews.decide", decision, target=f"reviews/{item.id}",
        details={"mart": item.mart, "row_key": item.row_key, "content_hash": item.content_hash,
                 "comment": comment},
    )  # fmt: skip
    return item, record


def parse_json_object(text: str) -> dict[str, Any]:
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}
