"""API clients: partner keys (banks, ATMs, POS) that sign requests to the vending API.

A frozen snapshot written out in full (it does not import ``tables_api.py``). Types as in
``tables.py``: ``UtcDateTime`` is ``DateTime(timezone=True)`` in the database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the api_clients table and its index on the vendor."""
    op.create_table(
        "api_clients",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("vendor_code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("sealed_secret", sa.String(256), nullable=False),
        sa.Column("allowed_ips", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_clients")),
        sa.ForeignKeyConstraint(
            ["vendor_code"], ["vendors.code"], name=op.f("fk_api_clients_vendor_code_vendors")
        ),
    )
    op.create_index(
        op.f("ix_api_clients_vendor_code"), "api_clients", ["vendor_code"], unique=False
    )


def downgrade() -> None:
    """Drop the api_clients table (its index goes with it)."""
    op.drop_table("api_clients")
