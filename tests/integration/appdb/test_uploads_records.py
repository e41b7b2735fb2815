"""Upload records: an ingest result completes the HTTP upload of the same bytes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from moatmetrics.appdb import audit, uploads
from moatmetrics.appdb.db import session_scope
from moatmetrics.appdb.models import AuditEntry, Upload
from moatmetrics.ingest.loader import UploadResult
from moatmetrics.settings import Settings

SHA = "ab" * 32
PROBLEMS = [
    {"row": None, "column": None, "value": None, "rule": "file-level", "fix": "f",
     "severity": "error", "sheet": None},
    {"row": 7, "column": "amount", "value": "12,5", "rule": "not a number", "fix": "use .",
     "severity": "error", "sheet": "Sheet1"},
]  # fmt: skip


@dataclass
class ScoredResult(UploadResult):
    """An UploadResult with the quality-gate fields (the colleague's extension)."""

    quality_score: float | None = None
    recommendations: list[str] = field(default_factory=list)


def test_ingest_result_completes_the_http_upload(app_settings: Settings) -> None:
    with session_scope(app_settings, write=True) as session:
        upload = uploads.create_received(
            session, audit.Actor("dana", "analyst"), original_name="Clients 2024.csv",
            stored_name="clients__Clients_2024.abababab.csv", entity="clients", sha256=SHA,
            size_bytes=120,
        )  # fmt: skip
        upload_id = upload.id
    result = ScoredResult(
        file_name="clients__Clients_2024.abababab.csv", entity="clients", status="rejected",
        upload_id=uploads.warehouse_upload_id(SHA), row_count=10, rows_rejected=3,
        message="3 of 10 rows break the data contract", notes=["column notes not imported"],
        quality_score=0.7, recommendations=["fix the amounts"],
    )  # fmt: skip
    assert uploads.record_ingest_result(result, PROBLEMS, app_settings) == [upload_id]
    with session_scope(app_settings) as session:
        stored = session.get(Upload, upload_id)
        assert (stored.status, stored.rows_rejected, stored.quality_score) == ("rejected", 3, 0.7)
        assert uploads.parse_json_list(stored.recommendations) == ["fix the amounts"]
        assert stored.original_name == "Clients 2024.csv" and stored.processed_at is not None
        total, problems = uploads.problems_page(session, upload_id, 1, 1)
        assert total == 2 and problems[0].row_number == 7 and problems[0].sheet == "Sheet1"
        assert uploads.find_processed(session, SHA).id == upload_id
        assert uploads.processed_upload_ids(session) == {uploads.warehouse_upload_id(SHA)}
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(e.action, e.actor, e.outcome) for e in entries] == [
        ("uploads.create", "dana", "ok"),
        ("pipeline.ingest", "pipeline", "rejected"),
    ]


def test_result_without_upload_creates_a_record(app_settings: Settings) -> None:
    plain = UploadResult(file_name="staff.csv", entity="staff", status="accepted",
                         upload_id="u0123456789abcdef", row_count=4, rows_loaded=4)  # fmt: skip
    (record_id,) = uploads.record_ingest_result(plain, [], app_settings)
    with session_scope(app_settings) as session:
        stored = session.get(Upload, record_id)
        assert stored.source == "landing" and stored.status == "accepted"
        assert stored.quality_score is None and uploads.parse_json_list(stored.notes) == []
        total, rows = uploads.list_uploads(session, "accepted", "staff", 10, 0)
        assert total == 1 and rows[0].id == record_id
