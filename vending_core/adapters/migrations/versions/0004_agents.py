"""Agents: phone numbers that sell by SMS with a PIN from their vendor's float.

A frozen snapshot written out in full (it does not import ``tables_agents.py``). Types as
in ``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)`` in the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the agents table and its index on the vendor."""
    op.create_table(
        "agents",
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("vendor_code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failed_pins", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", _TIME, nullable=True),
        sa.Column("locked_until", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_agents")),
        sa.ForeignKeyConstraint(
            ["vendor_code"], ["vendors.code"], name=op.f("fk_agents_vendor_code_vendors")
        ),
    )
    op.create_index(op.f("ix_agents_vendor_code"), "agents", ["vendor_code"], unique=False)


def downgrade() -> None:
    """Drop the agents table (its index goes with it)."""
    op.drop_table("agents")
