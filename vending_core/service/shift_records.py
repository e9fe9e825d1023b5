"""Records of shifts: a vending point's working period, opened and closed by staff.

A shift belongs to one vending point (``vendor_code``); at most one is open per vending point
at a time (the database enforces it). Its report is computed from the vends of that vending
point created while it was open (:class:`ShiftLine`, one per operator).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Shift", "ShiftLine", "ShiftStatus"]


class ShiftStatus(enum.StrEnum):
    """Where a shift stands."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(slots=True, kw_only=True)
class Shift:
    """One shift of a vending point: who opened it when, who closed it when."""

    id: int | None = None
    vendor_code: str
    opened_by: str  #: username
    opened_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None
    status: ShiftStatus = ShiftStatus.OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class ShiftLine:
    """One operator's totals in a shift (money in minor units, energy in tenths).

    ``sales``/``gross`` count every credit vend (reversed or not); ``reversals`` and
    ``reversed_gross`` are those of them reversed since; ``free_issues``/``free_tenths`` are
    the free-basic vends and the energy of their tokens.
    """

    operator: str
    sales: int
    gross: int
    free_issues: int
    free_tenths: int
    reversals: int
    reversed_gross: int
