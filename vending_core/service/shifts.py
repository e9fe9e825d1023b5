"""Shift use cases: open a vending point's shift, close it, and its report.

A shift is opened for a vending point (a vendor's code; in the admin API the user's area) and
closed by staff; the database keeps at most one open shift per vending point. The report
totals, per operator, the vending point's vends made while the shift was open
(``[opened_at, closed_at)``, or up to now while it is still open).

Refusals are :class:`ShiftError` (a :class:`~vending_core.domain.errors.BackOfficeRefusal`)::

    ShiftError
    ├── NoVendingPointError   no vending point to open a shift for (or an unknown one)
    ├── ShiftOpenError        the vending point has an open shift already
    ├── ShiftUnknownError     no shift with that id
    └── ShiftClosedError      the shift is closed already
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vending_core.domain.errors import BackOfficeRefusal
from vending_core.service.core import Core
from vending_core.service.shift_records import Shift, ShiftLine

__all__ = [
    "NoVendingPointError",
    "ShiftClosedError",
    "ShiftError",
    "ShiftOpenError",
    "ShiftReport",
    "ShiftUnknownError",
    "close_shift",
    "get_shift",
    "open_shift",
    "shift_report",
]


class ShiftError(BackOfficeRefusal):
    """A shift operation the core refuses."""

    code = "shift-refused"


class NoVendingPointError(ShiftError):
    """There is no vending point (vendor) to open the shift for."""

    code = "no-vending-point"


class ShiftOpenError(ShiftError):
    """The vending point already has an open shift."""

    code = "shift-already-open"


class ShiftUnknownError(ShiftError):
    """No shift has that id."""

    code = "shift-unknown"


class ShiftClosedError(ShiftError):
    """The shift is closed already."""

    code = "shift-closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShiftReport:
    """A shift with its per-operator lines (period end: when it closed, or now)."""

    shift: Shift
    until: datetime  #: the end of the period reported (exclusive)
    lines: tuple[ShiftLine, ...]


async def open_shift(core: Core, vendor_code: str | None, *, by: str) -> Shift:
    """Open a shift for the vending point ``vendor_code``, by the user named ``by``."""
    if vendor_code is None:
        raise NoVendingPointError("the user has no vending point to open a shift for")
    async with core.uow() as uow:
        if await uow.vendors.get_by_code(vendor_code) is None:
            raise NoVendingPointError(f"no vending point {vendor_code!r}")
        shift = Shift(vendor_code=vendor_code, opened_by=by, opened_at=core.now())
        shift.id = await uow.shifts.open(shift)
        if shift.id is None:
            raise ShiftOpenError(f"vending point {vendor_code} already has an open shift")
        await uow.commit()
    return shift


async def get_shift(core: Core, shift_id: int) -> Shift:
    """The shift with that id (ShiftUnknownError otherwise)."""
    async with core.read_uow() as uow:
        shift = await uow.shifts.get(shift_id)
    if shift is None:
        raise ShiftUnknownError(f"no shift {shift_id}")
    return shift


async def close_shift(core: Core, shift_id: int, *, by: str) -> Shift:
    """Close an open shift (a conditional update: a shift is closed once)."""
    async with core.uow() as uow:
        closed = await uow.shifts.close(shift_id, closed_by=by, closed_at=core.now())
        shift = await uow.shifts.get(shift_id)
        if shift is None:
            raise ShiftUnknownError(f"no shift {shift_id}")
        if not closed:
            raise ShiftClosedError(f"shift {shift_id} is closed already")
        await uow.commit()
    return shift


async def shift_report(core: Core, shift: Shift) -> ShiftReport:
    """The shift's totals per operator over ``[opened_at, closed_at or now)``."""
    until = shift.closed_at or core.now()
    async with core.read_uow() as uow:
        lines = await uow.shifts.report(shift.vendor_code, shift.opened_at, until)
    return ShiftReport(shift=shift, lines=tuple(lines), until=until)
