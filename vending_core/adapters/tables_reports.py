"""What the back-office reports add to the schema: one index and (PostgreSQL) statistics.

Registered by the import at the end of :mod:`vending_core.adapters.tables`; created by the
Alembic revision ``0008``.

* ``ix_vends_reversed_at``: the reversal report reads vends by reversal time. Partial (only
  reversed vends), so a sale writes nothing to it.
* PostgreSQL extended statistics on ``date_trunc('day' | 'month' | 'year', created_at at UTC)``
  of ``vends``: without them the planner takes the number of days in a year of vends for the
  number of distinct ``created_at`` values (a million), sorts the wide rows on disk instead of
  hashing 365 groups, and the year report takes seconds. ``ANALYZE`` fills them; they cost
  nothing on writes. SQLite groups by the leading characters of the stored text instead.

Only ``metadata.create_all`` uses the DDL here; migrations write theirs out in full.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, Index, Table, event, text

from vending_core.adapters.tables import vends

__all__ = ["PERIOD_STATISTICS"]

Index(
    "ix_vends_reversed_at",
    vends.c.reversed_at,
    sqlite_where=vends.c.reversed_at.is_not(None),
    postgresql_where=vends.c.reversed_at.is_not(None),
)

#: Statistics name and ``date_trunc`` unit (the reports' PostgreSQL period expression).
PERIOD_STATISTICS: Final = tuple(
    (f"st_vends_created_{unit}", unit) for unit in ("day", "month", "year")
)


def _create_statistics(target: Table, connection: Connection, **_: Any) -> None:
    """After ``CREATE TABLE vends`` on PostgreSQL: the period statistics."""
    if connection.dialect.name != "postgresql":
        return
    for name, unit in PERIOD_STATISTICS:
        on = f"date_trunc('{unit}', timezone('UTC', created_at))"
        connection.execute(text(f"CREATE STATISTICS {name} ON ({on}) FROM {target.name}"))


event.listen(vends, "after_create", _create_statistics)
