"""Back office: staff users, their sessions and API keys, the append-only audit log.

A frozen snapshot written out in full (it does not import ``tables_admin.py``). Types as in
``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)``; ids are BIGINT (INTEGER on
SQLite); JSON is JSONB on PostgreSQL. Also indexes ``vends.created_at`` for the sales report.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    """Create admin_users, admin_sessions, audit_log and the vends period index."""
    op.create_table(
        "admin_users",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("area", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TIME, nullable=True),
        sa.Column("allowed_ips", sa.Text(), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_users_username")),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_admin_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["admin_users.id"], name=op.f("fk_admin_sessions_user_id_admin_users")
        ),
    )
    op.create_index(op.f("ix_admin_sessions_user_id"), "admin_sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("remote", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", _JSON, nullable=True),
        sa.Column("after", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_user_id_at"), "audit_log", ["user_id", "at"])
    op.create_index("ix_vends_created_at", "vends", ["created_at"])


def downgrade() -> None:
    """Drop the period index and the three tables (their indexes go with them)."""
    op.drop_index("ix_vends_created_at", table_name="vends")
    op.drop_table("audit_log")
    op.drop_table("admin_sessions")
    op.drop_table("admin_users")
