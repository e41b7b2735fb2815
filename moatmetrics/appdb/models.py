"""Tables of the app database: API keys, uploads, review items and decisions, the audit log.

The same models run on SQLite (default, one file in the home) and PostgreSQL, so they stick to
portable types: JSON documents that take part in a hash are stored as canonical JSON *text*
(byte-identical on both engines), times as timezone-aware UTC (`UtcDateTime`), and the audit
log's time as fixed-width ISO text so its hash never depends on a driver's datetime handling.
The schema itself is owned by the Alembic migrations in `migrations/`; keep both in step.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Always-aware UTC datetimes, also on SQLite (which stores them without a zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A bearer key: only its SHA-256 is stored; the prefix identifies it in lists and logs."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    # Client-scoped keys: a JSON list of client ids the key may see; NULL = every client.
    clients: Mapped[str | None] = mapped_column(Text)


class Upload(Base):
    """One file handed to MoatMetrics (HTTP, landing folder or CLI) and what ingest made of it."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # http | landing | cli
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str | None] = mapped_column(String(255))
    entity: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    warehouse_upload_id: Mapped[str | None] = mapped_column(String(32), index=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    # A vendor file's group and subtotal rows, counted and left out (not rejected)
    rows_skipped: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Loaded rows naming a client nothing resolves, as of the last publish (NULL: not yet)
    rows_held: Mapped[int | None] = mapped_column(BigInteger)
    # The source profile that read the file (`xero_invoices v1`) or `canonical`
    profile: Mapped[str | None] = mapped_column(String(80))
    warnings: Mapped[int] = mapped_column(BigInteger, default=0)
    notes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    quality_score: Mapped[float | None] = mapped_column(Float)
    recommendations: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What an accepted upload replaces: its source (profile or `canonical`) and date range
    scope_source: Mapped[str | None] = mapped_column(String(64))
    scope_start: Mapped[date | None] = mapped_column(Date)
    scope_end: Mapped[date | None] = mapped_column(Date)
    # The period the uploader declared the export covers (its scope instead of its dates')
    declared_start: Mapped[date | None] = mapped_column(Date)
    declared_end: Mapped[date | None] = mapped_column(Date)
    retracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retracted_by: Mapped[str | None] = mapped_column(String(100))
    retract_reason: Mapped[str | None] = mapped_column(Text)


class UploadProblem(Base):
    """One rejected value or warning of an upload, as the rejected-rows report lists it."""

    __tablename__ = "upload_problems"
    __table_args__ = (Index("ix_upload_problems_upload_position", "upload_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    sheet: Mapped[str | None] = mapped_column(String(255))
    row_number: Mapped[int | None] = mapped_column(BigInteger)
    column_name: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(Text)
    fix: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))


class ReviewItem(Base):
    """A mart row flagged for review; a decision holds only for the content it was made on."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("mart", "row_key", name="uq_review_items_mart_row_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mart: Mapped[str] = mapped_column(String(64), index=True)
    row_key: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    # open | approved | rejected | resolved (no longer flagged; see appdb/reviews.py)
    status: Mapped[str] = mapped_column(String(16), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client_id: Mapped[str | None] = mapped_column(String(255), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    row_json: Mapped[str] = mapped_column(Text)
    factors_json: Mapped[str] = mapped_column(Text, default="{}")
    explanation: Mapped[str | None] = mapped_column(Text)
    # doubtful_data | unusual_month (moatmetrics/trust/review_reasons.py); NULL before 0003
    reason_kind: Mapped[str | None] = mapped_column(String(16), index=True)
    money_at_stake: Mapped[float | None] = mapped_column(Float)
    subject: Mapped[str | None] = mapped_column(String(255))  # client or staff name
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReviewDecision(Base):
    """History: every decision on an item, with the content hash it was made on."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """One link of the hash chain. `seq` is assigned under the append lock: no gaps, no reuse."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_action", "action"),
        Index("ix_audit_log_occurred_at", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(32))  # 2024-01-31T12:00:00.000000Z
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32))
    status: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    # HMAC of entry_hash with the installation's key (outside the database): a forged entry
    # with a correct hash has no valid one. NULL only for entries from before signing.
    entry_mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """Single row: the last link. Appenders lock it; verify compares it with the last entry."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))


class RateWindow(Base):
    """Requests of one key in one fixed one-minute window (shared by all API workers)."""

    __tablename__ = "rate_windows"

    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)


class RefusalWindow(Base):
    """Refused anonymous requests of one client address and action in one one-minute window.

    Shared by all API workers like `RateWindow`; the audit log gets the first refusal of the
    window in full and one summary entry with the count once the window is over.
    """

    __tablename__ = "refusal_windows"

    client_addr: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)


class ConsoleSession(Base):
    """A signed-in browser: only the SHA-256 of the random cookie value is stored.

    It acts for an API key (`key_id`) or for a single sign-on user (`user_id`), never both.
    """

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(16))  # signed_out | key_revoked


class SsoUser(Base):
    """A person who signed in through the OpenID provider, created at their first sign-in.

    Identified by (issuer, subject), the only pair a provider promises never to reassign;
    `actor_name` is what the audit log records for them, fixed at creation. `role` and `groups`
    are those of their last sign-in (the provider's groups decide the role each time).
    """

    __tablename__ = "sso_users"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_sso_users_issuer_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    actor_name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    groups: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    # Client-scoped access from MOATMETRICS_OIDC_GROUP_CLIENTS at the last sign-in; NULL = all.
    clients: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OidcSignIn(Base):
    """One sign-in under way at the provider: its state (hashed), nonce and PKCE verifier.

    Kept server-side so the verifier never leaves the server except to the token endpoint,
    and used at most once: the callback marks it used in the same statement that finds it.
    """

    __tablename__ = "oidc_sign_ins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TotpEnrolment(Base):
    """An admin key's second factor for the console: a TOTP secret and recovery codes.

    The secret is stored encrypted (AES-GCM under the installation's `totp` sub-key, bound to
    the key id), recovery codes as HMACs; `last_step` stops a code from being used twice, and
    `failures`/`locked_until` stop guessing.
    """

    __tablename__ = "totp_enrolments"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    secret_box: Mapped[str] = mapped_column(Text)
    recovery_hashes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of HMACs
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RowOverride(Base):
    """An analyst's correction of one input row (moatmetrics/appdb/overrides.py).

    Never deleted: reverting stamps `reverted_at`/`reverted_by`, so the list of corrections
    is also their history. `row_status` is what the latest pipeline run found: `pending`
    (no run since), `applied` or `row_not_found` (no row with this key in the latest data).
    """

    __tablename__ = "row_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), index=True)
    row_key: Mapped[str] = mapped_column(String(1000))  # canonical JSON object of the key
    action: Mapped[str] = mapped_column(String(16))  # exclude | set
    column_name: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(Text)  # canonical text; NULL = empty
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    reverted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    reverted_by: Mapped[str | None] = mapped_column(String(100))
    row_status: Mapped[str] = mapped_column(String(16), default="pending")
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MappingRow(Base):
    """A mapping row in force at the last publish: a client alias, a product map or an account
    map row (moatmetrics/appdb/mappings.py). Replaced wholesale after every publish."""

    __tablename__ = "mapping_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(32))
    mapping_key: Mapped[str] = mapped_column(String(255))  # source_key / source_product / account
    values_json: Mapped[str] = mapped_column(Text)  # the row's columns, canonical JSON
    warehouse_upload_id: Mapped[str | None] = mapped_column(String(32))
    snapshot_id: Mapped[str] = mapped_column(String(64))


class Scenario(Base):
    """A saved what-if scenario (moatmetrics/appdb/scenarios.py): a name and its changes, shared
    with everyone who may read scenarios. Deleting stamps `deleted_at` (the audit log keeps
    what it held)."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    changes_json: Mapped[str] = mapped_column(Text)  # canonical JSON list of the changes
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    deleted_by: Mapped[str | None] = mapped_column(String(100))
