"""Corrections: analysts' overrides of input rows, stored, audited, reverted and listed here.

An override excludes one input row or sets one of its columns (the rules are in
``moatmetrics/quality/corrections.py``). It is written with its audit entry in one transaction,
as review decisions are, and never deleted: a revert stamps who and when, and the audit log
has both. Each pipeline run copies the active overrides into the warehouse
(``moatmetrics/ingest/override_copy.py``), where dbt applies them, and records here whether
the row was found in the data (`record_row_status`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import RowOverride, utcnow
from moatmetrics.formulas import SafeCsvWriter
from moatmetrics.quality.corrections import Correction, CorrectionRefused, check, is_storable
from moatmetrics.settings import Settings

STATES = ("active", "reverted", "all")
ROW_STATUS_TEXT = {
    "pending": "not applied yet (applies from the next pipeline run)",
    "applied": "applied",
    "row_not_found": "row not found in the latest data",
}
EXPORT_COLUMNS = (
    "override_id", "entity", "row_key", "action", "column", "value", "reason", "created_by",
    "created_at", "state", "row_status", "reverted_by", "reverted_at",
)  # fmt: skip
REASON_MAX_CHARS = 2000


class OverrideConflict(RuntimeError):
    """An active override already does this to the row (revert it first)."""


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise CorrectionRefused("a correction needs a reason; fix: say why the row is wrong")
    if not is_storable(text) or any(c < " " and c not in "\t\n\r" for c in text):
        raise CorrectionRefused(
            "the reason contains a control character or invalid text; fix: write plain text"
        )
    if len(text) > REASON_MAX_CHARS:
        raise CorrectionRefused(
            f"the reason is longer than {REASON_MAX_CHARS} characters; fix: shorten it"
        )
    return text


def _active(session: Session, entity: str, row_key: str) -> list[RowOverride]:
    query = select(RowOverride).where(
        RowOverride.entity == entity,
        RowOverride.row_key == row_key,
        RowOverride.reverted_at.is_(None),
    )
    return list(session.scalars(query))


def _conflict(correction: Correction, active: list[RowOverride]) -> RowOverride | None:
    for other in active:
        if correction.action == "exclude" and other.action == "exclude":
            return other
        if correction.action == "set" and other.column_name == correction.column:
            return other
    return None


def create(
    session: Session,
    actor: audit.Actor,
    entity: str,
    key: Mapping[str, Any],
    action: str,
    column: str | None,
    value: object,
    reason: str | None,
) -> RowOverride:
    """Store a checked override and its audit entry (one transaction).

    Raises CorrectionRefused (a bad entity, key, column or value, or no reason) or
    OverrideConflict (an active override already excludes the row or sets that column).
    """
    correction = check(entity, dict(key), action, column, value)
    why = _reason(reason)
    existing = _conflict(correction, _active(session, entity, correction.row_key))
    if existing is not None:
        what = "excludes" if existing.action == "exclude" else f"sets {existing.column_name} of"
        raise OverrideConflict(
            f"override {existing.id} already {what} {entity} row {correction.row_key};"
            f" revert it first to change it"
        )
    override = RowOverride(
        entity=entity,
        row_key=correction.row_key,
        action=correction.action,
        column_name=correction.column,
        value=correction.value,
        reason=why,
        created_by=actor.name,
        row_status="pending",
    )
    session.add(override)
    session.flush()
    audit.append(
        session, actor, "corrections.create", "ok", target=f"corrections/{override.id}",
        details={"entity": entity, "row_key": override.row_key, "action": override.action,
                 "column": override.column_name, "value": override.value, "reason": why},
    )  # fmt: skip
    return override


def revert(session: Session, actor: audit.Actor, override_id: int) -> tuple[RowOverride, bool]:
    """Stop applying an override from the next run on (audited); whether this call did it.

    Reverting a reverted override changes nothing and writes no entry (the request itself is
    audited by the caller), so a retried revert is harmless. Raises LookupError (no such
    override).
    """
    override = session.get(RowOverride, override_id, with_for_update=True)
    if override is None:
        raise LookupError(override_id)
    if override.reverted_at is not None:
        return override, False
    override.reverted_at = utcnow()
    override.reverted_by = actor.name
    session.flush()
    audit.append(
        session, actor, "corrections.revert", "ok", target=f"corrections/{override.id}",
        details={"entity": override.entity, "row_key": override.row_key,
                 "action": override.action, "column": override.column_name},
    )  # fmt: skip
    return override, True


@dataclass(frozen=True)
class OverrideFilter:
    state: str = "active"  # active | reverted | all
    entity: str | None = None


def _query(flt: OverrideFilter):  # type: ignore[no-untyped-def]
    query = select(RowOverride)
    if flt.state == "active":
        query = query.where(RowOverride.reverted_at.is_(None))
    elif flt.state == "reverted":
        query = query.where(RowOverride.reverted_at.is_not(None))
    if flt.entity is not None:
        query = query.where(RowOverride.entity == flt.entity)
    return query


def list_overrides(
    session: Session, flt: OverrideFilter, limit: int, offset: int
) -> tuple[int, list[RowOverride]]:
    """Overrides, newest first, and how many match."""
    query = _query(flt)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(RowOverride.id.desc()).limit(limit).offset(offset))
    return total, list(rows)


def active_overrides(session: Session) -> list[RowOverride]:
    """Every override the next run applies, oldest first."""
    query = select(RowOverride).where(RowOverride.reverted_at.is_(None))
    return list(session.scalars(query.order_by(RowOverride.id)))


def record_row_status(session: Session, found: Iterable[int], checked: Iterable[int]) -> None:
    """After a run copied `checked` overrides: those in `found` met their row, the rest not."""
    found_ids = set(found)
    now = utcnow()
    for override in session.scalars(select(RowOverride).where(RowOverride.id.in_(list(checked)))):
        override.row_status = "applied" if override.id in found_ids else "row_not_found"
        override.checked_at = now


def state_of(override: RowOverride) -> str:
    return "active" if override.reverted_at is None else "reverted"


def key_of(override: RowOverride) -> dict[str, Any]:
    value = json.loads(override.row_key)
    return value if isinstance(value, dict) else {}


def describe(override: RowOverride) -> str:
    """One line for people: 'exclude' or 'set hours = 5.5'."""
    if override.action == "exclude":
        return "exclude the row"
    shown = "(empty)" if override.value is None else override.value
    return f"set {override.column_name} = {shown}"


def _export_row(o: RowOverride) -> list[Any]:
    return [
        o.id, o.entity, o.row_key, o.action, o.column_name or "", o.value or "", o.reason,
        o.created_by, audit.format_time(o.created_at), state_of(o),
        ROW_STATUS_TEXT.get(o.row_status, o.row_status), o.reverted_by or "",
        audit.format_time(o.reverted_at) if o.reverted_at else "",
    ]  # fmt: skip


def export_csv(settings: Settings | None, flt: OverrideFilter) -> Iterator[str]:
    """Every matching override as CSV (header first, oldest first), formula-like text made
    literal (`moatmetrics.formulas`). The session lives in the generator, as the audit
    export's does."""
    with session_scope(settings) as session:
        buffer = io.StringIO()
        writer = SafeCsvWriter(buffer, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for override in session.scalars(_query(flt).order_by(RowOverride.id)):
            writer.writerow(_export_row(override))
            if buffer.tell() > 65536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
