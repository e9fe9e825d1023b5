"""Back office: scopes of admin users (route-name patterns a user is limited to).

A frozen snapshot written out in full (it does not import ``tables_admin.py``). Adds
``admin_users.scopes``, a JSON list (JSONB on PostgreSQL), NOT NULL with the server default
``'[]'``: the users that existed before keep every route of their level.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    """Add ``admin_users.scopes`` (existing rows get the empty list)."""
    op.add_column(
        "admin_users",
        sa.Column("scopes", _JSON, nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    """Drop ``admin_users.scopes`` (SQLite 3.35+ drops a column in place)."""
    op.drop_column("admin_users", "scopes")
