"""Client-scoped access (issue 17): `api_keys.clients` and `sso_users.clients`.

A JSON list of the client ids a key may see (marts, reports, console pages); NULL means every
client, as before. A key's scope is fixed at creation (a scoped key is never admin); a single
sign-on user's is set at each sign-in from MOATMETRICS_OIDC_GROUP_CLIENTS.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("clients", sa.Text, nullable=True))
    with op.batch_alter_table("sso_users") as batch:
        batch.add_column(sa.Column("clients", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sso_users") as batch:
        batch.drop_column("clients")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("clients")
