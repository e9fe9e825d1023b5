"""The in-memory twin of the shift repository.

Its rows live in :class:`ShiftTables`, one field of the memory database's tables, so the memory
unit of work copies, commits and rolls them back with everything else. As in the SQL schema, a
vending point has at most one open shift. The report reads the memory vends (a loop is what a
twin can do; the SQL adapter groups in the database).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from vending_core.domain.records import TokenKind, Vend, VendKind, VendStatus
from vending_core.service.shift_records import Shift, ShiftLine, ShiftStatus

__all__ = ["MemoryShiftRepository", "ShiftTables"]


@dataclass
class ShiftTables:
    """The shift rows of one memory database."""

    shifts: dict[int, Shift] = field(default_factory=dict)
    next_id: int = 1


class MemoryShiftRepository:
    """``ports.ShiftRepository`` over :class:`ShiftTables` and the memory vends."""

    def __init__(self, tables: ShiftTables, vends: Callable[[], Iterable[Vend]]) -> None:
        self._t = tables
        self._vends = vends

    async def open(self, shift: Shift) -> int | None:
        """Store the shift as open; its id, or None if its vending point has one open."""
        if any(
            s.vendor_code == shift.vendor_code and s.status is ShiftStatus.OPEN
            for s in self._t.shifts.values()
        ):
            return None
        new_id, self._t.next_id = self._t.next_id, self._t.next_id + 1
        self._t.shifts[new_id] = replace(copy.deepcopy(shift), id=new_id, status=ShiftStatus.OPEN)
        return new_id

    async def get(self, shift_id: int) -> Shift | None:
        """By id (a copy)."""
        return copy.deepcopy(self._t.shifts.get(shift_id))

    async def close(self, shift_id: int, *, closed_by: str, closed_at: datetime) -> bool:
        """Close an open shift; False if it is unknown or closed already."""
        shift = self._t.shifts.get(shift_id)
        if shift is None or shift.status is not ShiftStatus.OPEN:
            return False
        self._t.shifts[shift_id] = replace(
            shift, status=ShiftStatus.CLOSED, closed_by=closed_by, closed_at=closed_at
        )
        return True

    async def find(
        self, *, vendor_code: str | None, status: ShiftStatus | None, limit: int, offset: int
    ) -> list[Shift]:
        """A page of shifts, newest first, filtered by vending point and status."""
        found = [
            self._t.shifts[key]
            for key in sorted(self._t.shifts, reverse=True)
            if (vendor_code is None or self._t.shifts[key].vendor_code == vendor_code)
            and (status is None or self._t.shifts[key].status is status)
        ]
        return copy.deepcopy(found[offset : offset + limit])

    async def report(self, vendor_code: str, start: datetime, end: datetime) -> list[ShiftLine]:
        """Per operator, the vending point's vends in ``[start, end)``."""
        groups: dict[str, list[Vend]] = {}
        for vend in self._vends():
            if (
                vend.vendor_code == vendor_code
                and start <= vend.created_at < end
                and vend.kind in {VendKind.CREDIT, VendKind.FREE_BASIC}
            ):
                groups.setdefault(vend.operator or "", []).append(vend)
        return [_line(name, groups[name]) for name in sorted(groups)]


def _line(operator: str, group: list[Vend]) -> ShiftLine:
    sales = [v for v in group if v.kind is VendKind.CREDIT]
    free = [v for v in group if v.kind is VendKind.FREE_BASIC]
    undone = [v for v in sales if v.status is VendStatus.REVERSED]
    return ShiftLine(
        operator=operator,
        sales=len(sales),
        gross=sum(v.gross for v in sales),
        free_issues=len(free),
        free_tenths=sum(
            t.tenths or 0 for v in free for t in v.tokens if t.kind is TokenKind.FREE_BASIC
        ),
        reversals=len(undone),
        reversed_gross=sum(v.gross for v in undone),
    )
