"""The mapping tables in force (issue 13): `mapping_rows`, one row per client alias, product
map and account map row the last publish used.

The console's mappings page lists them without opening the warehouse (which a running
pipeline holds): after each publish the rows in force are copied here, with the warehouse
upload that brought each one, so the page can link to it and withdraw a row written from the
console by retracting its one-row upload.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mapping_rows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(32), nullable=False, index=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("mapping_key", sa.String(255), nullable=False),
        sa.Column("values_json", sa.Text, nullable=False),
        sa.Column("warehouse_upload_id", sa.String(32), nullable=True),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mapping_rows")
