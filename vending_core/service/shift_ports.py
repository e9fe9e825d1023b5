"""The shift repository port (``UnitOfWork.shifts``), kept apart so ``ports.py`` stays small.

Adapters: :class:`vending_core.adapters.shifts_sql.SqlShiftRepository` (SQLite and
PostgreSQL; the report is one ``GROUP BY`` in the database) and the memory twin
:class:`vending_core.adapters.memory_shifts.MemoryShiftRepository`; one contract test
(``tests/contract/test_shift_repository.py``) runs on all three.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vending_core.service.shift_records import Shift, ShiftLine, ShiftStatus

__all__ = ["ShiftRepository"]


class ShiftRepository(Protocol):
    """Shifts of vending points; at most one open shift per vending point."""

    async def open(self, shift: Shift) -> int | None:
        """Store ``shift`` as open; its new id, or None if its vending point has one open.

        The database decides (a unique index over the open shifts' vendor codes, written
        with ``ON CONFLICT DO NOTHING``): two concurrent opens store one shift, never two,
        and the transaction is not aborted.
        """
        ...

    async def get(self, shift_id: int) -> Shift | None:
        """By id."""
        ...

    async def close(self, shift_id: int, *, closed_by: str, closed_at: datetime) -> bool:
        """Close an open shift (one conditional update); False if it is unknown or closed."""
        ...

    async def find(
        self, *, vendor_code: str | None, status: ShiftStatus | None, limit: int, offset: int
    ) -> list[Shift]:
        """A page of shifts, newest first (by id), filtered by vending point and status."""
        ...

    async def report(self, vendor_code: str, start: datetime, end: datetime) -> list[ShiftLine]:
        """Per operator, the totals of the vending point's vends made in ``[start, end)``.

        Credit sales and their gross, free-basic issues and their tenths, and the credit
        sales reversed since; one line per operator name (``""`` for none), by name.
        """
        ...
