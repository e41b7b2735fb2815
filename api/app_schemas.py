"""Response and request models of the governed endpoints: keys, uploads, reviews, audit.

Kept apart from `api.schemas` (the marts' public row shapes) because these describe the app
database, not the published data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import BaseModel, Field

Role = Literal["viewer", "analyst", "admin"]


#: Why an item is in the review queue (`moatmetrics.trust.review_reasons.KINDS`).
ReasonKind = Literal["doubtful_data", "unusual_month", "client_identity", "anomaly"]


class Me(BaseModel):
    name: str = Field(description="The API key's name (the actor in the audit log).")
    role: str
    prefix: str = Field(description="Public part of the key, e.g. mmk_1a2b3c4d.")
    clients: list[str] | None = Field(
        default=None,
        description="Client-scoped access: the only clients this key sees; null = all.",
    )


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
    clients: list[str] | None = Field(
        default=None, description="Client-scoped access: the only clients the key sees; null = all."
    )


class KeyList(BaseModel):
    keys: list[KeyInfoOut]


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["finance-powerbi"])
    role: Role
    clients: list[str] | None = Field(
        default=None,
        max_length=500,
        description="Client-scoped access: limit the key to these client ids (not with admin).",
        examples=[["C1", "C2"]],
    )


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
        description="received (waiting for the pipeline run), accepted, rejected, unchanged or"
        " retracted."
    )
    message: str
    row_count: int
    rows_loaded: int
    rows_rejected: int
    rows_skipped: int = Field(
        description="A vendor file's group, subtotal and blank rows: counted, left out, not"
        " rejected."
    )
    rows_held: int | None = Field(
        description="Loaded rows naming a client that no alias or name match resolves, as of"
        " the last publish: out of the marts until the client is confirmed (null: not"
        " published yet)."
    )
    profile: str | None = Field(
        description="The source profile that read the file (e.g. `xero_invoices v1`), or"
        " canonical (docs/sources.md)."
    )
    warnings: int
    notes: list[str]
    quality_score: float | None
    recommendations: list[Any]
    uploaded_by: str
    created_at: datetime
    processed_at: datetime | None
    scope_source: str | None = Field(
        description="An accepted upload's source: the profile that read it, or canonical."
    )
    scope_start: date | None = Field(
        description="First date of its scope: a newer upload of the same source and entity"
        " replaces its rows from here to scope_end (null: an entity without dates)."
    )
    scope_end: date | None = Field(description="Last date of its scope.")
    declared_start: date | None = Field(
        description="The period the uploader declared (form field `period`), if any: first day."
    )
    declared_end: date | None = Field(description="Last day of the declared period.")
    retracted_at: datetime | None
    retracted_by: str | None
    retract_reason: str | None


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


class RetractIn(BaseModel):
    reason: str = Field(
        min_length=1, max_length=500, description="Why (kept in the upload and the audit log)."
    )


class UploadRetracted(UploadOut):
    run_requested: bool = Field(description="A pipeline run was started to take its rows out.")


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
    reason_kind: ReasonKind | None = Field(
        default=None,
        description="Why the row is flagged: doubtful_data (a factor about the inputs is low), "
        "unusual_month (only the month's distance from the entity's history is), "
        "client_identity (mart `client_identity`: vendor rows name a client nothing resolves; "
        "confirm it with POST /api/v1/reviews/{id}/client) or anomaly (mart `anomalies`: a "
        "month far from its own history and its peers; reject to dismiss it until its numbers "
        "change); null for items not refreshed by a pipeline run since this field was added.",
    )
    reason: str | None = Field(
        default=None, description="The reason in words, naming the factor behind it."
    )
    weakest_factor: str | None = Field(
        default=None, description="The confidence factor that lowers confidence most."
    )
    money_at_stake: float | None = Field(
        default=None,
        description="Dollars the row is about: a client month's revenue or total cost "
        "(the larger), a licence row's monthly waste plus leakage; null for staff rows.",
    )
    subject: str | None = Field(default=None, description="The client's or staff member's name.")


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


class ClientConfirmation(BaseModel):
    client_id: str = Field(
        min_length=1, max_length=64, pattern=r"^\S(.*\S)?$",
        description="The client the held vendor key is, or `-` for your own company.",
    )  # fmt: skip
    content_hash: str | None = _CONTENT_HASH


class ClientConfirmed(BaseModel):
    item: ReviewItemDetail
    upload_id: int = Field(description="The client_aliases upload that carries the alias.")
    run_requested: bool = Field(description="Whether a pipeline run was asked for.")


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


class CorrectionIn(BaseModel):
    """An analyst's correction of one input row (docs/trust.md#corrections)."""

    entity: str = Field(
        max_length=32,
        description="time_entries, invoices, expenses, licenses, clients or staff.",
        examples=["time_entries"],
    )
    row_key: dict[str, str | int | None] = Field(
        max_length=8,
        description=(
            "The row's natural key: entry_id; invoice_id and line_no; expense_id; client_id,"
            " vendor, product and month (YYYY-MM); client_id; staff_id."
        ),
        examples=[{"entry_id": "T001"}],
    )
    action: str = Field(max_length=16, description="exclude or set.", examples=["set"])
    column: str | None = Field(
        default=None, max_length=64, description="The column to set (set only).", examples=["hours"]
    )
    value: str | int | float | bool | None = Field(
        default=None,
        description="The new value (set only), checked against the data contract; empty = NULL.",
        examples=["5.5"],
    )
    reason: str = Field(
        min_length=1, max_length=2000, pattern=r"\S", description="Why the row is wrong."
    )


class CorrectionOut(BaseModel):
    id: int
    entity: str
    row_key: dict[str, Any]
    action: Literal["exclude", "set"]
    column: str | None
    value: str | None = Field(description="Canonical text of the new value; null = empty.")
    summary: str = Field(description="What the correction does, e.g. 'set hours = 5.5'.")
    reason: str
    created_by: str
    created_at: datetime
    state: Literal["active", "reverted"]
    reverted_by: str | None
    reverted_at: datetime | None
    row_status: Literal["pending", "applied", "row_not_found"] = Field(
        description="What the latest pipeline run found: pending (no run since), applied, or"
        " row_not_found (no row with this key in the latest data)."
    )
    row_status_text: str


class CorrectionList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CorrectionOut]
