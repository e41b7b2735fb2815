"""Single sign-on (issue 17): SSO users, sign-ins under way, console sessions of SSO users.

- `sso_users`: people created at their first sign-in through the OpenID provider, keyed by
  (issuer, subject), with the actor name the audit log records for them.
- `oidc_sign_ins`: the state (hashed), nonce and PKCE verifier of each sign-in under way,
  used at most once.
- `console_sessions.user_id`: a console session acts for an API key or an SSO user, so
  `key_id` becomes nullable.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sso_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("actor_name", sa.String(100), nullable=False, unique=True),
        sa.Column("email", sa.String(255)),
        sa.Column("display_name", sa.String(255)),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_sign_in_at", _utc(), nullable=False),
        sa.UniqueConstraint("issuer", "subject", name="uq_sso_users_issuer_subject"),
    )
    op.create_table(
        "oidc_sign_ins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_path", sa.String(500), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.Column("used_at", _utc()),
    )
    with op.batch_alter_table("console_sessions") as batch:
        batch.alter_column("key_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("user_id", sa.Integer))
        batch.create_foreign_key(
            "fk_console_sessions_user_id_sso_users",
            "sso_users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_console_sessions_user_id", ["user_id"])


def downgrade() -> None:
    op.execute("DELETE FROM console_sessions WHERE key_id IS NULL")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_index("ix_console_sessions_user_id")
        batch.drop_constraint("fk_console_sessions_user_id_sso_users", type_="foreignkey")
        batch.drop_column("user_id")
        batch.alter_column("key_id", existing_type=sa.Integer, nullable=False)
    op.drop_table("oidc_sign_ins")
    op.drop_table("sso_users")
