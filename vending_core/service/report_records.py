"""What the back-office reports return: one frozen line per group, plain integers.

Money is in minor units, energy in tenths of a unit (kWh). Every grouped line has a ``key``:
a UTC calendar day ``YYYY-MM-DD``, month ``YYYY-MM`` or year ``YYYY``, or a channel, vendor
code, operator, SGC, TI, debt id or status ('' where the vend has none). The groupings each
report accepts are in :data:`GROUPINGS`; the repository port is
:class:`vending_core.service.report_ports.ReportRepository`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = [
    "GROUPINGS",
    "PERIODS",
    "DebtRecoveryLine",
    "FreeIssueLine",
    "IdleMeter",
    "MaintenanceLine",
    "ReconciliationLine",
    "ReprintLine",
    "ReversalLine",
    "VendingLine",
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
