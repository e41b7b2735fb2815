"""What ingest made of a vendor file (issue 13): `uploads.profile`, `rows_skipped`, `rows_held`.

The uploads page shows, per file, the source profile that read it (`xero_invoices v1`, or
`canonical`), the group and subtotal rows it skipped, and after each publish how many of its
rows are held: loaded, but naming a client no alias or name resolves, so out of the marts
until someone confirms who the client is.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("profile", sa.String(80), nullable=True))
        batch.add_column(
            sa.Column("rows_skipped", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("rows_held", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("rows_held")
        batch.drop_column("rows_skipped")
        batch.drop_column("profile")
