"""Response and request models of the governed endpoints: keys, uploads, reviews, audit.

Kept apart from `api.schemas` (the marts' public row shapes) because these describe the app
database, not the published data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import BaseModel, Field

Role = Literal["viewer", "analyst", "admin"]


class Me(BaseModel):
    name: str = Field(description="The API key's name (the actor in the audit log).")
    role: str
    prefix: str = Field(description="Public part of the key, e.g. mmk_1a2b3c4d.")


class KeyInfoOut(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str
    active: bool
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None
    revoked_by: str | None


class KeyList(BaseModel):
    keys: list[KeyInfoOut]


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["finance-powerbi"])
    role: Role


class KeyCreated(KeyInfoOut):
    key: str = Field(description="The secret. Shown only in this response; store it now.")


class UploadProblemOut(BaseModel):
    row: int | None = Field(description="Row as the user sees it (header = row 1); null = file.")
    column: str | None
    value: str | None
    rule: str
    fix: str | None
    severity: str = Field(description="error (row rejected) or warning (row kept).")
    sheet: str | None


class UploadOut(BaseModel):
    id: int
    source: str = Field(description="http, landing or cli.")
    file_name: str = Field(description="The name the file was uploaded with.")
    stored_name: str | None = Field(description="Its name in the landing folder.")
    entity: str | None
    sha256: str | None
    size_bytes: int | None
    status: str = Field(
        description="received (waiting for the pipeline run), accepted, rejected or unchanged."
    )
    message: str
    row_count: int
    rows_loaded: int
    rows_rejected: int
    warnings: int
    notes: list[str]
    quality_score: float | None
    recommendations: list[Any]
    uploaded_by: str
    created_at: datetime
    processed_at: datetime | None


class UploadList(BaseModel):
    total: int
    limit: int
    offset: int
    uploads: list[UploadOut]


class UploadDetail(UploadOut):
    problems_total: int
    problems_limit: int
    problems_offset: int
    problems: list[UploadProblemOut]


class UploadAccepted(BaseModel):
    id: int
    status: str
    message: str
    location: str = Field(description="Poll this URL for the ingest outcome.")
    run_requested: bool = Field(description="A pipeline run was started for this upload.")


class DecisionOut(BaseModel):
    id: int
    decision: Literal["approved", "rejected"]
    comment: str | None
    content_hash: str = Field(description="The row content the decision was made on.")
    decided_by: str
    decided_at: datetime
    current: bool = Field(description="Made on the item's current content.")


class ReviewItemOut(BaseModel):
    id: int
    mart: str
    row_key: str
    status: Literal["open", "approved", "rejected", "resolved"]
    snapshot_id: str | None
    client_id: str | None
    confidence: float | None
    content_hash: str
    created_at: datetime
    updated_at: datetime


class ReviewItemDetail(ReviewItemOut):
    row: dict[str, Any] = Field(description="The mart row under review.")
    factors: dict[str, Any] = Field(description="Confidence factors and their values.")
    explanation: str | None
    decisions: list[DecisionOut] = Field(description="Every decision, oldest first.")


class ReviewList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ReviewItemOut]


_CONTENT_HASH = Field(
    default=None,
    pattern=r"^[0-9a-f]{64}$",
    description="The content_hash you reviewed; 409 if the row changed since.",
)


class Approval(BaseModel):
    decision: Literal["approved"]
    comment: str | None = Field(default=None, max_length=4000)
    content_hash: str | None = _CONTENT_HASH


class Rejection(BaseModel):
    decision: Literal["rejected"]
    comment: str = Field(
        min_length=1, max_length=4000, pattern=r"\S", description="What is wrong (required)."
    )
    content_hash: str | None = _CONTENT_HASH


DecisionIn = Annotated[Approval | Rejection, Body(discriminator="decision")]


class AuditEntryOut(BaseModel):
    seq: int
    occurred_at: str = Field(description="UTC, ISO 8601 with microseconds.")
    actor: str
    role: str | None
    action: str
    target: str | None
    outcome: str
    status: int | None
    request_id: str | None
    client_addr: str | None
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[AuditEntryOut] = Field(description="Newest first.")


class AuditVerification(BaseModel):
    valid: bool
    entries_checked: int
    head_seq: int = Field(description="Sequence number of the last entry.")
    head_hash: str = Field(description="Hash of the last entry: keep it elsewhere to anchor.")
    first_broken_seq: int | None = Field(description="The first entry that fails; null if valid.")
    reason: str | None


class EntityQuality(BaseModel):
    entity: str
    upload_id: int = Field(description="The entity's newest judged upload.")
    file_name: str
    status: str = Field(description="accepted or rejected.")
    quality_score: float | None = Field(
        description="Share of rows passing, weighted by severity (clean 1, warnings 0.5,"
        " rejected 0)."
    )
    row_count: int
    rows_rejected: int
    warnings: int
    recommendations: list[Any]
    processed_at: datetime | None


class QualityOverview(BaseModel):
    entities: list[EntityQuality]
