"""Hardening (issue 20): signed audit entries, server-side console sessions, refusal windows.

- `audit_log.entry_mac`: HMAC of each entry's hash with the installation's signing key, which
  lives outside the database (`moatmetrics.appdb.signing`); NULL for older entries.
- `console_sessions`: the console's sessions (random cookie, only its hash stored, expiry,
  ended on sign-out or key revocation) instead of the raw API key in the cookie.
- `refusal_windows`: refused anonymous requests per client address and minute, so a flood is
  counted in one row and summarised in one audit entry instead of one entry per request.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("entry_mac", sa.String(64)))
    op.create_table(
        "refusal_windows",
        sa.Column("client_addr", sa.String(64), primary_key=True),
        sa.Column("action", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "key_id",
            sa.Integer,
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc()),
        sa.Column("ended_reason", sa.String(16)),
    )
    op.create_index("ix_console_sessions_key_id", "console_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_key_id", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("refusal_windows")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("entry_mac")
