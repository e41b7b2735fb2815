"""Corrections (issue 19): analysts' row overrides, applied by dbt on every run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "row_overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("row_key", sa.String(1000), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("column_name", sa.String(64)),
        sa.Column("value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("reverted_at", _utc()),
        sa.Column("reverted_by", sa.String(100)),
        sa.Column("row_status", sa.String(16), nullable=False),
        sa.Column("checked_at", _utc()),
    )
    op.create_index("ix_row_overrides_entity", "row_overrides", ["entity"])
    op.create_index("ix_row_overrides_reverted_at", "row_overrides", ["reverted_at"])


def downgrade() -> None:
    op.drop_index("ix_row_overrides_reverted_at", table_name="row_overrides")
    op.drop_index("ix_row_overrides_entity", table_name="row_overrides")
    op.drop_table("row_overrides")
