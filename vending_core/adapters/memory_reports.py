"""The in-memory twin of the reports: the same groups and sums as the SQL aggregates.

A twin can only loop over its rows; the SQL adapter (:mod:`.reports_sql`) groups in the
database. Keys sort as the database sorts them: a missing key ('' after formatting) first,
TI and debt ids as numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from vending_core.adapters.memory_admin import AdminTables
from vending_core.adapters.memory_payments import PaymentTables
from vending_core.domain.model import Customer, Meter
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.domain.records import MaintenanceRequest, Vend, VendKind, VendStatus
from vending_core.service.admin_records import AuditEntry
from vending_core.service.payments import PAYMENT_CLIENT_ID
from vending_core.service.report_records import (
    PERIODS,
    RECENT_DAYS,
    AbnormalMeter,
    DebtRecoveryLine,
    FreeIssueLine,
    IdleMeter,
    MaintenanceLine,
    ReconciliationLine,
    ReprintLine,
    ReversalLine,
    VendingLine,
    abnormal_meter,
    history_window,
    is_below,
    is_idle,
)

__all__ = ["MemoryReportRepository", "ReportSources"]

_T = TypeVar("_T")
_SIZES = {"day": 10, "month": 7, "year": 4}


class ReportSources(Protocol):
    """The memory tables the reports read (``memory._Tables`` has them)."""

    vends: dict[int, Vend]
    meters: dict[int, Meter]
    customers: dict[int, Customer]
    maintenance: dict[int, MaintenanceRequest]
    payment_tables: PaymentTables
    admin_tables: AdminTables


def _period(when: datetime, by: str) -> str:
    return when.astimezone(UTC).isoformat()[: _SIZES[by]]


def _in(when: datetime | None, start: datetime, end: datetime) -> bool:
    return when is not None and start <= when < end


def _groups(items: Iterable[_T], key: Callable[[_T], Any]) -> list[tuple[str, list[_T]]]:
    """Items by key, keys in the database's order (None first); keys formatted as text."""
    found: dict[Any, list[_T]] = {}
    for item in items:
        found.setdefault(key(item), []).append(item)
    ordered = sorted(found, key=lambda k: (k is not None, k))
    return [("" if k is None else str(k), found[k]) for k in ordered]


def _vat(vend: Vend) -> int:
    return int((vend.breakdown or {})["lines"][1][1])


def _field(vend: Vend, name: str) -> int:
    return int((vend.breakdown or {}).get(name, 0))


class MemoryReportRepository:
    """``ports.ReportRepository`` over the memory tables."""

    def __init__(self, tables: ReportSources) -> None:
        self._t = tables

    def _vend_key(self, by: str) -> Callable[[Vend], Any]:
        if by in PERIODS:
            return lambda v: _period(v.created_at, by)
        if by in {"sgc", "ti"}:
            return lambda v: getattr(self._t.meters[v.meter_id], by)
        keys: dict[str, Callable[[Vend], Any]] = {
            "channel": lambda v: v.channel,
            "vendor": lambda v: v.vendor_code or "",
            "operator": lambda v: v.operator or "",
        }
        return keys[by]

    def _sales(self, start: datetime, end: datetime) -> list[Vend]:
        return [
            v
            for v in self._t.vends.values()
            if v.kind is VendKind.CREDIT
            and v.status is VendStatus.COMPLETED
            and _in(v.created_at, start, end)
        ]

    async def vending(self, start: datetime, end: datetime, by: str) -> list[VendingLine]:
        """Completed credit vends created in the period (reversed ones are left out)."""
        lines = []
        for key, group in _groups(self._sales(start, end), self._vend_key(by)):
            gross, vat = sum(v.gross for v in group), sum(_vat(v) for v in group)
            commission = sum(v.commission for v in group)
            units = sum(_field(v, "credit_tenths") for v in group)
            lines.append(VendingLine(key, len(group), gross, vat, gross - vat, commission, units))
        return lines

    async def free_issue(self, start: datetime, end: datetime, by: str) -> list[FreeIssueLine]:
        """Completed vends created in the period that issued Free Basic Electricity."""
        issued = [
            v
            for v in self._t.vends.values()
            if v.kind in {VendKind.CREDIT, VendKind.FREE_BASIC}
            and v.status is VendStatus.COMPLETED
            and _in(v.created_at, start, end)
            and _field(v, "fbe_tenths") > 0
        ]
        return [
            FreeIssueLine(
                key,
                len(group),
                sum(_field(v, "fbe_tenths") for v in group),
                sum(v.kind is VendKind.FREE_BASIC for v in group),
            )
            for key, group in _groups(issued, self._vend_key(by))
        ]

    async def debt_recovery(
        self, start: datetime, end: datetime, by: str
    ) -> list[DebtRecoveryLine]:
        """The debt lines of completed credit vends created in the period."""
        vend_key = self._vend_key(by) if by != "debt" else None
        lines = [
            (line["debt_id"] if vend_key is None else vend_key(v), line)
            for v in self._sales(start, end)
            for line in (v.breakdown or {}).get("debt_lines", [])
        ]
        out = []
        for key, group in _groups(lines, lambda pair: pair[0]):
            amount = sum(int(line["amount"]) for _, line in group)
            vat = sum(int(line["vat"]) for _, line in group)
            out.append(DebtRecoveryLine(key, len(group), amount, vat, amount - vat))
        return out

    async def reversals(self, start: datetime, end: datetime, by: str) -> list[ReversalLine]:
        """Vends reversed in the period (``reversed_at``); ``operator``: who reversed."""
        undone = [
            v
            for v in self._t.vends.values()
            if v.status is VendStatus.REVERSED and _in(v.reversed_at, start, end)
        ]
        key: Callable[[Vend], Any]
        if by in PERIODS:
            key = lambda v: _period(v.reversed_at or v.created_at, by)  # noqa: E731
        elif by == "operator":
            key = lambda v: v.reversed_by or ""  # noqa: E731
        else:
            key = self._vend_key(by)
        return [
            ReversalLine(
                k,
                len(group),
                sum(v.gross for v in group),
                sum(_vat(v) for v in group),
                sum(v.commission for v in group),
            )
            for k, group in _groups(undone, key)
        ]

    async def reprints(self, start: datetime, end: datetime, by: str) -> list[ReprintLine]:
        """Audited admin reprints in the period; ``operator``: the user's username."""
        users = self._t.admin_tables.users
        entries = [
            e
            for e in self._t.admin_tables.audit
            if e.action == "pos.reprint" and _in(e.at, start, end)
        ]

        def key(entry: AuditEntry) -> str:
            if by in PERIODS:
                return _period(entry.at, by)
            user = None if entry.user_id is None else users.get(entry.user_id)
            return "" if user is None else user.username

        return [ReprintLine(k, len(group)) for k, group in _groups(entries, key)]

    async def maintenance(self, start: datetime, end: datetime, by: str) -> list[MaintenanceLine]:
        """Requests opened (``opened_at``) and resolved (``resolved_at``) in the period."""
        events: list[tuple[Any, int]] = []
        for request in self._t.maintenance.values():
            for when, opened in ((request.opened_at, 1), (request.resolved_at, 0)):
                if when is not None and _in(when, start, end):
                    key = request.status.value if by == "status" else _period(when, by)
                    events.append((key, opened))
        return [
            MaintenanceLine(key, sum(o for _, o in group), sum(1 - o for _, o in group))
            for key, group in _groups(events, lambda event: event[0])
        ]

    async def reconciliation(
        self, start: datetime, end: datetime, by: str
    ) -> list[ReconciliationLine]:
        """Payments (by ``created_at``) and payment vends (by ``created_at``) that disagree."""
        rows: list[tuple[Any, int, int]] = []  # key, category, amount
        paid = self._t.payment_tables.payments.values()
        vends = self._t.vends

        def pay_key(p: Payment) -> Any:
            return p.channel if by == "channel" else _period(p.created_at, by)

        for p in paid:
            if not _in(p.created_at, start, end):
                continue
            if p.status is PaymentStatus.PAID:
                rows.append((pay_key(p), 0, p.amount))
            elif p.status is PaymentStatus.CONFLICT:
                rows.append((pay_key(p), 3, p.amount))
            elif p.status is PaymentStatus.VENDED and p.vend_id in vends:
                gross = vends[p.vend_id].gross
                if gross != p.amount:
                    rows.append((pay_key(p), 2, p.amount - gross))
        by_id = self._t.payment_tables.payments
        settled = {PaymentStatus.PAID, PaymentStatus.VENDED}
        for v in vends.values():
            payment = by_id.get(v.request_id)
            if (
                v.client_id == PAYMENT_CLIENT_ID
                and _in(v.created_at, start, end)
                and (payment is None or payment.status not in settled)
            ):
                key = v.channel if by == "channel" else _period(v.created_at, by)
                rows.append((key, 1, v.gross))
        return [_reconciled(key, group) for key, group in _groups(rows, lambda row: row[0])]

    async def idle_meters(self, before: datetime, *, limit: int, offset: int) -> list[IdleMeter]:
        """Meters whose last purchase is before ``before`` or who never bought; one page."""
        idle = sorted(
            (
                m
                for m in self._t.meters.values()
                if m.last_purchase_at is None or m.last_purchase_at < before
            ),
            key=lambda m: (m.last_purchase_at is not None, m.last_purchase_at or before, m.id),
        )
        return [self._idle(m) for m in idle[offset : offset + limit]]

    async def abnormal_meters(
        self, now: datetime, before: datetime, *, below: int, limit: int, offset: int
    ) -> list[AbnormalMeter]:
        """Idle meters, and with ``below`` > 0 those far below their history; one page.

        The twin loops over the vends once to sum each meter's history.
        """
        start, end = history_window(now)
        recent = now - timedelta(days=RECENT_DAYS)
        sums: dict[int, list[int]] = {}  # meter id: history, recent tenths, credits, free
        for v in self._t.vends.values():
            if v.status is not VendStatus.COMPLETED or not _in(v.created_at, start, now):
                continue
            line = sums.setdefault(v.meter_id, [0, 0, 0, 0])
            if v.kind is VendKind.CREDIT:
                tenths = _field(v, "credit_tenths")
                if v.created_at < end:
                    line[0] += tenths
                    line[2] += 1
                if v.created_at >= recent:
                    line[1] += tenths
            elif v.kind is VendKind.FREE_BASIC and v.created_at < end:
                line[3] += 1
        listed = []
        for meter_id, m in self._t.meters.items():
            history, recent_tenths, credits, free = sums.get(meter_id, [0, 0, 0, 0])
            found = abnormal_meter(
                self._idle(m),
                before,
                history_tenths=history,
                recent_tenths=recent_tenths,
                credits=credits,
                free_issues=free,
            )
            if is_idle(m.last_purchase_at, before) or is_below(
                recent_tenths, found.avg_month_tenths, below
            ):
                listed.append((m, found))
        listed.sort(
            key=lambda pair: (
                pair[0].last_purchase_at is not None,
                pair[0].last_purchase_at or before,
                pair[0].id,
            )
        )
        return [found for _, found in listed[offset : offset + limit]]

    def _idle(self, meter: Meter) -> IdleMeter:
        owner = None if meter.customer_id is None else self._t.customers.get(meter.customer_id)
        return IdleMeter(
            meter_number=meter.number,
            sgc=meter.sgc,
            ti=meter.ti,
            status=meter.status.value,
            fbe_registered=meter.fbe_registered,
            customer_id=meter.customer_id,
            account_number=owner.account_number if owner else None,
            customer_name=owner.name if owner else None,
            last_purchase_at=meter.last_purchase_at,
        )


def _reconciled(key: str, group: list[tuple[Any, int, int]]) -> ReconciliationLine:
    counts, amounts = [0, 0, 0, 0], [0, 0, 0, 0]
    for _, category, amount in group:
        counts[category] += 1
        amounts[category] += amount
    pairs = [value for pair in zip(counts, amounts, strict=True) for value in pair]
    return ReconciliationLine(key, *pairs)
