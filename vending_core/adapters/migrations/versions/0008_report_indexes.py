"""Indexes and statistics for the back-office reports.

A frozen snapshot written out in full (it does not import ``tables_reports.py``):

* ``ix_vends_reversed_at``, partial (``reversed_at IS NOT NULL``): the reversal report by
  reversal time; a sale writes nothing to it.
* PostgreSQL only: extended statistics on the reports' period expressions
  ``date_trunc('day' | 'month' | 'year', timezone('UTC', created_at))`` of ``vends``, so the
  planner knows a year of vends has 365 days (it hashes the groups instead of sorting a
  million wide rows on disk). ``ANALYZE`` (autovacuum) fills them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNITS = ("day", "month", "year")


def upgrade() -> None:
    """Create the partial reversal index and, on PostgreSQL, the period statistics."""
    op.create_index(
        "ix_vends_reversed_at",
        "vends",
        ["reversed_at"],
        sqlite_where=sa.text("reversed_at IS NOT NULL"),
        postgresql_where=sa.text("reversed_at IS NOT NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for unit in _UNITS:
            op.execute(
                f"CREATE STATISTICS st_vends_created_{unit} "
                f"ON (date_trunc('{unit}', timezone('UTC', created_at))) FROM vends"
            )
        op.execute("ANALYZE vends")  # fill the new statistics now, not at the next autovacuum


def downgrade() -> None:
    """Drop the statistics and the index."""
    if op.get_bind().dialect.name == "postgresql":
        for unit in _UNITS:
            op.execute(f"DROP STATISTICS IF EXISTS st_vends_created_{unit}")
    op.drop_index("ix_vends_reversed_at", table_name="vends")
