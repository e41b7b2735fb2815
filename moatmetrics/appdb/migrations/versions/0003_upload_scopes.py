"""Upload scopes and retraction (issue 19, "replace, not append").

- `uploads.scope_source`, `scope_start`, `scope_end`: what an accepted upload replaces — the
  source that read it (a profile name or `canonical`) and the range of its dates; shown by the
  API and the console.
- `uploads.declared_start`, `declared_end`: the period an HTTP uploader declared the export
  covers (form field `period`), used as its scope by the run that ingests it.
- `uploads.retracted_at`, `retracted_by`, `retract_reason`: a retracted upload (status
  `retracted`); the next pipeline run takes its rows out of the warehouse.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("scope_source", sa.String(64)))
        batch.add_column(sa.Column("scope_start", sa.Date))
        batch.add_column(sa.Column("scope_end", sa.Date))
        batch.add_column(sa.Column("declared_start", sa.Date))
        batch.add_column(sa.Column("declared_end", sa.Date))
        batch.add_column(sa.Column("retracted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("retracted_by", sa.String(100)))
        batch.add_column(sa.Column("retract_reason", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        for column in (
            "retract_reason",
            "retracted_by",
            "retracted_at",
            "declared_end",
            "declared_start",
            "scope_end",
            "scope_start",
            "scope_source",
        ):
            batch.drop_column(column)
