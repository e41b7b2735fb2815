"""Upload records: every file handed to MoatMetrics and what the ingest made of it.

An HTTP upload is recorded as ``received`` when its file lands; the pipeline run that ingests
the landing folder then reports each file's `UploadResult` through `record_ingest_result`,
which finds the record by the file's content (``u`` + first 16 hex of its SHA-256, the
warehouse's upload id) and stores the outcome and every problem row. Files that arrive another
way (dropped into the landing folder, `moatmetrics ingest`) get a record at that point.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from moatmetrics.appdb import audit
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import Upload, UploadProblem, utcnow
from moatmetrics.canonical import canonical_json
from moatmetrics.settings import Settings

RECEIVED = "received"
ACCEPTED = "accepted"
RETRACTED = "retracted"
TERMINAL_STATUSES = (ACCEPTED, "rejected", "unchanged", RETRACTED)
MAX_REASON_CHARS = 500
PROBLEM_KEYS = ("row", "column", "value", "rule", "fix", "severity", "sheet")


def warehouse_upload_id(sha256: str) -> str:
    """The id the ingest gives a file (see `moatmetrics.ingest.loader`)."""
    return "u" + sha256[:16]


def create_received(
    session: Session,
    actor: audit.Actor,
    *,
    original_name: str,
    stored_name: str,
    entity: str | None,
    sha256: str,
    size_bytes: int,
    period: tuple[date, date] | None = None,
) -> Upload:
    """Record a file that has just landed for the next pipeline run, and audit it."""
    upload = Upload(
        declared_start=period[0] if period else None,
        declared_end=period[1] if period else None,
        source="http",
        original_name=original_name,
        stored_name=stored_name,
        entity=entity,
        sha256=sha256,
        warehouse_upload_id=warehouse_upload_id(sha256),
        size_bytes=size_bytes,
        status=RECEIVED,
        message="received; waiting for the pipeline run that ingests it",
        uploaded_by=actor.name,
    )
    session.add(upload)
    session.flush()
    audit.append(
        session, actor, "uploads.create", "ok", target=f"uploads/{upload.id}", status=202,
        details={"file": original_name, "stored_as": stored_name, "entity": entity,
                 "sha256": sha256, "size_bytes": size_bytes,
                 "period": f"{period[0]}..{period[1]}" if period else None},
    )  # fmt: skip
    return upload


def declared_periods(session: Session) -> dict[str, tuple[date, date]]:
    """Warehouse upload id -> the declared period of files waiting for their run."""
    rows = session.execute(
        select(Upload.warehouse_upload_id, Upload.declared_start, Upload.declared_end).where(
            Upload.status == RECEIVED, Upload.declared_start.is_not(None)
        )
    ).all()
    return {
        upload_id: (start, end) for upload_id, start, end in rows if upload_id and start and end
    }


def create_duplicate(
    session: Session, actor: audit.Actor, *, original_name: str, sha256: str, size_bytes: int,
    entity: str | None, previous: Upload,
) -> Upload:  # fmt: skip
    """A byte-identical file was processed before: record it as unchanged, land nothing."""
    upload = Upload(
        source="http",
        original_name=original_name,
        entity=entity or previous.entity,
        sha256=sha256,
        warehouse_upload_id=warehouse_upload_id(sha256),
        size_bytes=size_bytes,
        status="unchanged",
        message=f"byte-identical to upload {previous.id} ({previous.status}); nothing to do",
        uploaded_by=actor.name,
        processed_at=utcnow(),
    )
    session.add(upload)
    session.flush()
    audit.append(
        session, actor, "uploads.create", "unchanged", target=f"uploads/{upload.id}",
        status=202, details={"file": original_name, "sha256": sha256, "same_as": previous.id},
    )  # fmt: skip
    return upload


def find_processed(session: Session, sha256: str) -> Upload | None:
    """The newest processed upload of exactly these bytes, if any."""
    return session.scalar(
        select(Upload)
        .where(
            Upload.warehouse_upload_id == warehouse_upload_id(sha256),
            Upload.status.in_(TERMINAL_STATUSES),
        )
        .order_by(Upload.id.desc())
        .limit(1)
    )


def find_upload(session: Session, ref: str) -> Upload | None:
    """By record id (`12`) or by warehouse upload id (`u` + 16 hex: the newest such record)."""
    if ref.isdigit():
        return session.get(Upload, int(ref)) if int(ref) < 2**31 else None
    return session.scalar(
        select(Upload).where(Upload.warehouse_upload_id == ref).order_by(Upload.id.desc()).limit(1)
    )


def processed_upload_ids(session: Session) -> set[str]:
    """Warehouse upload ids that a pipeline run has already reported (for the sensor)."""
    return set(
        session.scalars(
            select(Upload.warehouse_upload_id).where(Upload.status.in_(TERMINAL_STATUSES))
        )
    )


def warehouse_problems(con: Any, upload_id: str) -> list[dict[str, Any]]:
    """Every rejected value and warning of one upload, from the warehouse's report table."""
    rows = con.execute(
        "SELECT row_number, column_name, value, rule, fix, severity, sheet"
        " FROM ingest.rejected_rows WHERE upload_id = ?"
        " ORDER BY row_number NULLS FIRST, column_name, rule",
        [upload_id],
    ).fetchall()
    return [dict(zip(PROBLEM_KEYS, row, strict=True)) for row in rows]


def _apply_result(
    session: Session, upload: Upload, result: Any, problems: Sequence[dict[str, Any]]
) -> None:
    upload.status = result.status
    upload.entity = result.entity or upload.entity
    upload.stored_name = upload.stored_name or result.file_name
    upload.message = result.message or ""
    upload.row_count = result.row_count
    upload.rows_loaded = result.rows_loaded
    upload.rows_rejected = result.rows_rejected
    upload.rows_skipped = getattr(result, "rows_skipped", 0) or 0
    upload.profile = getattr(result, "profile", None) or ("canonical" if result.entity else None)
    upload.warnings = result.warnings
    upload.notes = canonical_json(list(result.notes))
    score = getattr(result, "quality_score", None)
    upload.quality_score = None if score is None else float(score)
    upload.recommendations = canonical_json(list(getattr(result, "recommendations", []) or []))
    upload.processed_at = utcnow()
    upload.scope_source = getattr(result, "scope_source", None)
    upload.scope_start = getattr(result, "scope_start", None)
    upload.scope_end = getattr(result, "scope_end", None)
    session.execute(delete(UploadProblem).where(UploadProblem.upload_id == upload.id))
    if problems:
        session.execute(
            insert(UploadProblem),
            [
                {
                    "upload_id": upload.id,
                    "position": position,
                    "row_number": p.get("row"),
                    "column_name": p.get("column"),
                    "value": None if p.get("value") is None else str(p["value"]),
                    "rule": p.get("rule") or "",
                    "fix": p.get("fix"),
                    "severity": p.get("severity") or "error",
                    "sheet": p.get("sheet"),
                }
                for position, p in enumerate(problems, start=1)
            ],
        )


def record_ingest_result(
    result: Any,
    problems: list[dict[str, Any]],
    settings: Settings | None = None,
    *,
    source: str = "landing",
    actor: audit.Actor = audit.PIPELINE,
) -> list[int]:
    """Store one file's `UploadResult` and problem rows; audit it. Returns the record ids.

    HTTP uploads waiting for this file (same content) are completed; otherwise a record is
    created with `source`.
    """
    with session_scope(settings, write=True) as session:
        uploads = list(
            session.scalars(
                select(Upload).where(
                    Upload.warehouse_upload_id == result.upload_id, Upload.status == RECEIVED
                )
            )
        )
        if not uploads:
            upload = Upload(
                source=source,
                original_name=result.file_name,
                stored_name=result.file_name,
                warehouse_upload_id=result.upload_id,
                status=RECEIVED,
                uploaded_by=actor.name,
            )
            session.add(upload)
            session.flush()
            uploads = [upload]
        for upload in uploads:
            _apply_result(session, upload, result, problems)
        audit.append(
            session, actor, "pipeline.ingest", result.status,
            target=",".join(f"uploads/{u.id}" for u in uploads),
            details={"file": result.file_name, "upload_id": result.upload_id,
                     "entity": result.entity, "rows_loaded": result.rows_loaded,
                     "rows_rejected": result.rows_rejected, "warnings": result.warnings,
                     "problems": len(problems),
                     "quarantined_to": getattr(result, "quarantined_to", None)},
        )  # fmt: skip
        return [u.id for u in uploads]


def list_uploads(
    session: Session, status: str | None, entity: str | None, limit: int, offset: int
) -> tuple[int, list[Upload]]:
    query = select(Upload)
    if status is not None:
        query = query.where(Upload.status == status)
    if entity is not None:
        query = query.where(Upload.entity == entity)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Upload.id.desc()).limit(limit).offset(offset)).all()
    return total, list(rows)


def problems_page(
    session: Session, upload_id: int, limit: int, offset: int
) -> tuple[int, list[UploadProblem]]:
    base = select(UploadProblem).where(UploadProblem.upload_id == upload_id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(base.order_by(UploadProblem.position).limit(limit).offset(offset))
    return total, list(rows)


def parse_json_list(text: str) -> list[Any]:
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []


def latest_per_entity(session: Session) -> list[Upload]:
    """The newest judged upload (accepted or rejected) of each entity, by entity name."""
    judged = ("accepted", "rejected")
    newest = (
        select(Upload.entity, func.max(Upload.id).label("id"))
        .where(Upload.status.in_(judged), Upload.entity.is_not(None))
        .group_by(Upload.entity)
        .subquery()
    )
    rows = session.scalars(
        select(Upload).join(newest, Upload.id == newest.c.id).order_by(Upload.entity)
    )
    return list(rows)


class RetractError(ValueError):
    """A retraction refused; the message says why and what to do."""


class NotRetractable(RetractError):
    """The upload is not accepted (received, rejected, unchanged or retracted already)."""


def retract_upload(session: Session, actor: audit.Actor, ref: str, reason: str) -> Upload:
    """Mark an accepted upload retracted (audited in the same transaction); returns it.

    Every record of the same content (``warehouse_upload_id``) that was accepted is marked:
    the warehouse knows the content, not the record. The rows leave the warehouse at the next
    pipeline run (`retracted_uploads`). Raises LookupError (no such upload) or RetractError.
    """
    reason = (reason or "").strip()
    if not reason:
        raise RetractError("give a reason for the retraction (it goes into the audit log)")
    if len(reason) > MAX_REASON_CHARS:
        raise RetractError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    upload = find_upload(session, ref)
    if upload is None:
        raise LookupError(ref)
    if upload.status != "accepted":
        raise NotRetractable(
            f"upload {upload.id} is {upload.status}, not accepted: only an accepted upload has"
            " rows to retract"
        )
    same = list(
        session.scalars(
            select(Upload).where(
                Upload.warehouse_upload_id == upload.warehouse_upload_id,
                Upload.status == "accepted",
            )
        )
    )
    now = utcnow()
    for record in same:
        record.status = RETRACTED
        record.retracted_at = now
        record.retracted_by = actor.name
        record.retract_reason = reason
        record.message = f"retracted: {reason}"
    session.flush()
    audit.append(
        session, actor, "uploads.retract", "ok",
        target=",".join(f"uploads/{r.id}" for r in same),
        details={"upload_id": upload.warehouse_upload_id, "file": upload.original_name,
                 "entity": upload.entity, "reason": reason},
    )  # fmt: skip
    return upload


def retracted_uploads(session: Session) -> dict[str, tuple[str, str]]:
    """Warehouse upload id -> (reason, who) of every retracted upload (for the ingest step)."""
    rows = session.execute(
        select(Upload.warehouse_upload_id, Upload.retract_reason, Upload.retracted_by).where(
            Upload.status == RETRACTED, Upload.warehouse_upload_id.is_not(None)
        )
    ).all()
    return {upload_id: (reason or "", who or "") for upload_id, reason, who in rows if upload_id}


def record_held_rows(session: Session, held_by_upload: dict[str, int]) -> int:
    """After a publish: each accepted upload's rows held for want of a client (warehouse
    upload id -> rows; an accepted upload not named holds none). Returns the uploads changed."""
    changed = 0
    for upload in session.scalars(select(Upload).where(Upload.status == "accepted")):
        held = held_by_upload.get(upload.warehouse_upload_id or "", 0)
        if upload.rows_held != held:
            upload.rows_held = held
            changed += 1
    return changed
