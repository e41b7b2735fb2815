"""Review reasons (issue 19): why an item is flagged, the money at stake and who it is about.

- `review_items.reason_kind`: `doubtful_data` (a factor about the inputs is low) or
  `unusual_month` (only the month's distance from the entity's history is), so the two queues
  can be filtered apart (`moatmetrics.trust.review_reasons`).
- `review_items.money_at_stake`: the dollars the row's numbers are about, to sort by.
- `review_items.subject`: the client's or staff member's name, so the queue shows names.

Items written before this revision have them NULL until the next pipeline run refreshes
every flagged row.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("reason_kind", sa.String(16)))
        batch.add_column(sa.Column("money_at_stake", sa.Float))
        batch.add_column(sa.Column("subject", sa.String(255)))
    op.create_index("ix_review_items_reason_kind", "review_items", ["reason_kind"])


def downgrade() -> None:
    op.drop_index("ix_review_items_reason_kind", table_name="review_items")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("subject")
        batch.drop_column("money_at_stake")
        batch.drop_column("reason_kind")
