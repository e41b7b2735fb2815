"""Saved what-if scenarios (issue 16): `scenarios`, a name and its changes, shared and audited.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("changes_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("deleted_at", _utc()),
        sa.Column("deleted_by", sa.String(100)),
    )
    op.create_index("ix_scenarios_deleted_at", "scenarios", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_scenarios_deleted_at", table_name="scenarios")
    op.drop_table("scenarios")
