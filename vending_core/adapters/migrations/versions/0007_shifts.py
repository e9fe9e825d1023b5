"""Shifts per vending point, at most one open at a time per vending point.

A frozen snapshot written out in full (it does not import ``tables_shifts.py``). Types as in
``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)``; ids are BIGINT (INTEGER on
SQLite). The partial unique index ``uq_shifts_vendor_code_open`` (``WHERE status = 'open'``)
works on SQLite and PostgreSQL alike.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create shifts, its listing index and the one-open-shift-per-vending-point index."""
    op.create_table(
        "shifts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("vendor_code", sa.String(32), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    op.create_index(op.f("ix_shifts_vendor_code_id"), "shifts", ["vendor_code", "id"])
    op.create_index(
        "uq_shifts_vendor_code_open",
        "shifts",
        ["vendor_code"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    """Drop the shifts table (its indexes go with it)."""
    op.drop_table("shifts")
