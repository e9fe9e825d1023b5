"""The reports' repository port (kept apart so ``ports.py`` stays small).

``UnitOfWork.reports`` is a :class:`ReportRepository`. Each grouped report covers ``[start,
end)`` and groups by one of its :data:`~vending_core.service.report_records.GROUPINGS`; the
SQL adapter computes it with one aggregate query (``GROUP BY``) in the database, never a loop
over rows. Days, months and years are UTC calendar periods.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from vending_core.service.report_records import (
    AbnormalMeter,
    DebtRecoveryLine,
    FreeIssueLine,
    IdleMeter,
    MaintenanceLine,
    ReconciliationLine,
    ReprintLine,
    ReversalLine,
    VendingLine,
)

__all__ = ["ReportRepository"]


class ReportRepository(Protocol):
    """Read-only aggregates over vends, payments, meters, maintenance and the audit log."""

    async def vending(self, start: datetime, end: datetime, by: str) -> list[VendingLine]:
        """Completed credit vends created in the period (reversed ones are left out)."""
        ...

    async def free_issue(self, start: datetime, end: datetime, by: str) -> list[FreeIssueLine]:
        """Completed vends created in the period that issued Free Basic Electricity."""
        ...

    async def debt_recovery(
        self, start: datetime, end: datetime, by: str
    ) -> list[DebtRecoveryLine]:
        """The debt lines of completed credit vends created in the period."""
        ...

    async def reversals(self, start: datetime, end: datetime, by: str) -> list[ReversalLine]:
        """Vends reversed in the period (``reversed_at``); ``operator``: who reversed."""
        ...

    async def reprints(self, start: datetime, end: datetime, by: str) -> list[ReprintLine]:
        """Audited admin reprints in the period; ``operator``: the user's username."""
        ...

    async def maintenance(self, start: datetime, end: datetime, by: str) -> list[MaintenanceLine]:
        """Requests opened (``opened_at``) and resolved (``resolved_at``) in the period."""
        ...

    async def reconciliation(
        self, start: datetime, end: datetime, by: str
    ) -> list[ReconciliationLine]:
        """Payments (by ``created_at``) and payment vends (by ``created_at``) that disagree."""
        ...

    async def idle_meters(self, before: datetime, *, limit: int, offset: int) -> list[IdleMeter]:
        """Meters whose last purchase is before ``before`` or who never bought.

        Never-bought first, then oldest purchase first, then by meter id; one page.
        """
        ...

    async def abnormal_meters(
        self, now: datetime, before: datetime, *, below: int, limit: int, offset: int
    ) -> list[AbnormalMeter]:
        """Idle meters, and with ``below`` > 0 those buying far below their own history.

        Idle as in :meth:`idle_meters`; below: last 30 days under ``below`` % of the monthly
        average (see ``AbnormalMeter``, ``is_below``); each with its history. One aggregate
        over the vends of the history window (SQL: one ``GROUP BY``); the order of
        :meth:`idle_meters`; one page.
        """
        ...
