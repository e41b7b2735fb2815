"""App database: API keys, uploads and their problems, review items and decisions, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-10-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("last_used_at", _utc()),
        sa.Column("revoked_at", _utc()),
        sa.Column("revoked_by", sa.String(100)),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("stored_name", sa.String(255)),
        sa.Column("entity", sa.String(32)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("warehouse_upload_id", sa.String(32)),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("rows_loaded", sa.BigInteger, nullable=False),
        sa.Column("rows_rejected", sa.BigInteger, nullable=False),
        sa.Column("warnings", sa.BigInteger, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("quality_score", sa.Float),
        sa.Column("recommendations", sa.Text, nullable=False),
        sa.Column("uploaded_by", sa.String(100), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("processed_at", _utc()),
    )
    op.create_index("ix_uploads_sha256", "uploads", ["sha256"])
    op.create_index("ix_uploads_warehouse_upload_id", "uploads", ["warehouse_upload_id"])
    op.create_index("ix_uploads_status", "uploads", ["status"])
    op.create_table(
        "upload_problems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "upload_id",
            sa.Integer,
            sa.ForeignKey("uploads.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("sheet", sa.String(255)),
        sa.Column("row_number", sa.BigInteger),
        sa.Column("column_name", sa.String(255)),
        sa.Column("value", sa.Text),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("fix", sa.Text),
        sa.Column("severity", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_upload_problems_upload_position", "upload_problems", ["upload_id", "position"]
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mart", sa.String(64), nullable=False),
        sa.Column("row_key", sa.String(255), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("snapshot_id", sa.String(64)),
        sa.Column("client_id", sa.String(255)),
        sa.Column("confidence", sa.Float),
        sa.Column("row_json", sa.Text, nullable=False),
        sa.Column("factors_json", sa.Text, nullable=False),
        sa.Column("explanation", sa.Text),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.UniqueConstraint("mart", "row_key", name="uq_review_items_mart_row_key"),
    )
    for column in ("mart", "status", "snapshot_id", "client_id"):
        op.create_index(f"ix_review_items_{column}", "review_items", [column])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "item_id",
            sa.Integer,
            sa.ForeignKey("review_items.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", _utc(), nullable=False),
    )
    op.create_index("ix_review_decisions_item_id", "review_decisions", ["item_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("request_id", sa.String(64)),
        sa.Column("client_addr", sa.String(64)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": GENESIS_HASH}])
    op.create_table(
        "rate_windows",
        sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("window_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "rate_windows",
        "audit_head",
        "audit_log",
        "review_decisions",
        "review_items",
        "upload_problems",
        "uploads",
        "api_keys",
    ):
        op.drop_table(table)
