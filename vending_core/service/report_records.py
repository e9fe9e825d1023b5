"""What the back-office reports return: one frozen line per group, plain integers.

Money is in minor units, energy in tenths of a unit (kWh). Every grouped line has a ``key``:
a UTC calendar day ``YYYY-MM-DD``, month ``YYYY-MM`` or year ``YYYY``, or a channel, vendor
code, operator, SGC, TI, debt id or status ('' where the vend has none). The groupings each
report accepts are in :data:`GROUPINGS`; the repository port is
:class:`vending_core.service.report_ports.ReportRepository`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Final

from vending_core.domain.model import MeterStatus

__all__ = [
    "GROUPINGS",
    "HISTORY_MONTHS",
    "PERIODS",
    "RECENT_DAYS",
    "AbnormalMeter",
    "DebtRecoveryLine",
    "FreeIssueLine",
    "IdleMeter",
    "MaintenanceLine",
    "ReconciliationLine",
    "ReprintLine",
    "ReversalLine",
    "VendingLine",
    "abnormal_meter",
    "history_window",
    "is_below",
    "is_idle",
]

#: Groupings by calendar period (UTC).
PERIODS: Final = ("day", "month", "year")

#: The groupings of each report, by report name.
GROUPINGS: Final[dict[str, tuple[str, ...]]] = {
    "vending": (*PERIODS, "channel", "vendor", "operator", "sgc", "ti"),
    "free_issue": (*PERIODS, "channel", "vendor", "operator", "sgc", "ti"),
    "debt": (*PERIODS, "channel", "vendor", "debt"),
    "reversals": (*PERIODS, "operator", "channel", "vendor"),
    "reprints": (*PERIODS, "operator"),
    "maintenance": (*PERIODS, "status"),
    "reconciliation": (*PERIODS, "channel"),
}


@dataclass(frozen=True, slots=True)
class VendingLine:
    """Completed credit sales: count, gross, the receipts' VAT, net of VAT, commission, units."""

    key: str
    sales: int
    gross: int
    vat: int
    net: int
    commission: int
    units: int  #: credit tenths


@dataclass(frozen=True, slots=True)
class FreeIssueLine:
    """Free Basic Electricity issued: tokens, tenths; ``claimed_alone`` without a purchase."""

    key: str
    issues: int
    units: int
    claimed_alone: int


@dataclass(frozen=True, slots=True)
class DebtRecoveryLine:
    """Debt recovered by completed sales: debt lines, amount (VAT included), VAT, net."""

    key: str
    recoveries: int
    amount: int
    vat: int
    net: int


@dataclass(frozen=True, slots=True)
class ReversalLine:
    """Sales reversed in the period (by reversal time): count, gross, VAT, commission."""

    key: str
    reversals: int
    gross: int
    vat: int
    commission: int


@dataclass(frozen=True, slots=True)
class ReprintLine:
    """Reprints done through the admin API (the audit log's ``pos.reprint`` entries)."""

    key: str
    reprints: int


@dataclass(frozen=True, slots=True)
class MaintenanceLine:
    """Maintenance requests opened and resolved in the period."""

    key: str
    opened: int
    resolved: int


@dataclass(frozen=True, slots=True)
class ReconciliationLine:
    """Payments against vends: what does not match, counts and amounts.

    ``paid_not_vended``: payments PAID (money taken, no vend yet). ``vended_not_paid``: vends
    made for a payment (client ``payment``) whose payment is not PAID or VENDED.
    ``mismatched``: VENDED payments whose amount differs from their vend's gross
    (``mismatch`` = paid minus vended). ``conflicts``: payments in CONFLICT (money taken but
    not vendable: manual review).
    """

    key: str
    paid_not_vended: int
    paid_not_vended_amount: int
    vended_not_paid: int
    vended_not_paid_gross: int
    mismatched: int
    mismatch: int
    conflicts: int
    conflict_amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IdleMeter:
    """A meter with no purchase since a date (or never), with its customer if it has one."""

    meter_number: str
    sgc: str
    ti: int
    status: str
    fbe_registered: bool
    customer_id: int | None
    account_number: str | None
    customer_name: str | None
    last_purchase_at: datetime | None


#: The abnormal report's history: whole UTC calendar months before the current one.
HISTORY_MONTHS: Final = 12
#: The abnormal report's recent consumption: the last days before now.
RECENT_DAYS: Final = 30


def history_window(now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)``: the :data:`HISTORY_MONTHS` whole UTC calendar months before ``now``'s.

    On 2026-11-15 that is ``[2025-11-01, 2026-11-01)``.
    """
    utc = now.astimezone(UTC)
    months = utc.year * 12 + utc.month - 1 - HISTORY_MONTHS
    start = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
    return start, datetime(utc.year, utc.month, 1, tzinfo=UTC)


def is_idle(last_purchase_at: datetime | None, before: datetime) -> bool:
    """No purchase since ``before`` (the meter's ``last_purchase_at``), or never."""
    return last_purchase_at is None or last_purchase_at < before


def is_below(recent_tenths: int, average_tenths: int, percent: int) -> bool:
    """The recent energy under ``percent`` % of a positive monthly average (0 %: never)."""
    return average_tenths > 0 and recent_tenths * 100 < percent * average_tenths


@dataclass(frozen=True, slots=True, kw_only=True)
class AbnormalMeter(IdleMeter):
    """An idle meter, or one buying far below its own history, with that history.

    Energy counts as in the vending report: ``credit_tenths`` of completed credit vends
    (reversed ones are left out; the FBE a purchase carries is not credit). The history is
    :func:`history_window` (12 whole calendar months before the current one):
    ``avg_month_tenths`` is its credit energy // 12 (0 without any); ``fbe_only``: it has
    completed free-basic vends and no completed credit vend (engineering and key change
    tokens are not counted). ``last_month_tenths``: credit energy of the last
    :data:`RECENT_DAYS` days ``[now - 30 days, now)``. ``reason``: ``idle`` (see
    :func:`is_idle`; it wins) or ``below-average`` (see :func:`is_below`).
    """

    avg_month_tenths: int
    last_month_tenths: int
    fbe_only: bool
    blocked: bool
    reason: str


def abnormal_meter(
    meter: IdleMeter,
    before: datetime,
    *,
    history_tenths: int,
    recent_tenths: int,
    credits: int,
    free_issues: int,
) -> AbnormalMeter:
    """The report line of ``meter`` from its history's sums (credit vends, free-basic vends)."""
    return AbnormalMeter(
        **{field.name: getattr(meter, field.name) for field in fields(IdleMeter)},
        avg_month_tenths=history_tenths // HISTORY_MONTHS,
        last_month_tenths=recent_tenths,
        fbe_only=credits == 0 and free_issues > 0,
        blocked=meter.status == MeterStatus.BLOCKED.value,
        reason="idle" if is_idle(meter.last_purchase_at, before) else "below-average",
    )
