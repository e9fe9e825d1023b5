"""Response bodies of the ``/reports/*`` routes (for the OpenAPI document).

Like :mod:`admin_api.responses_more`: pydantic models that only *describe* the JSON the
handlers of :mod:`admin_api.reports` build, field for field, forbidding unknown fields. A
grouped report answers ``{"from", "to", "by", "items", "totals"}``: one line per group
(``key``: the period, channel, vendor, operator, SGC, TI, debt id or status) and the sums of
every other column; ``?format=csv`` answers the lines as CSV instead (``RESPONSES`` says so).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vending_core.domain.model import MeterStatus

__all__ = [
    "AbnormalReport",
    "DebtRecoveryReport",
    "FreeIssueReport",
    "MaintenanceReport",
    "ReconciliationReport",
    "ReportPeriod",
    "ReprintReport",
    "ReversalReport",
    "VendingReport",
]

_VEND_GROUPS = Literal["day", "month", "year", "channel", "vendor", "operator", "sgc", "ti"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportPeriod(_Out):
    """A report period ``[from, to)``."""

    start: Annotated[AwareDatetime, Field(alias="from")]
    end: Annotated[AwareDatetime, Field(alias="to")]


class VendingTotals(_Out):
    """Completed credit sales: count, gross, VAT, net of VAT, commission, credit tenths."""

    sales: int
    gross: int
    vat: int
    net: int
    commission: int
    units: int


class VendingLineView(VendingTotals):
    """One group of the vending report (``key``: the period, channel, vendor, SGC, TI...)."""

    key: str


class VendingReport(ReportPeriod):
    """Sales with VAT in ``[from, to)``, grouped ``by``."""

    by: _VEND_GROUPS
    items: list[VendingLineView]
    totals: VendingTotals


class FreeIssueTotals(_Out):
    """Free Basic Electricity tokens, their tenths, and those claimed without a purchase."""

    issues: int
    units: int
    claimed_alone: int


class FreeIssueLineView(FreeIssueTotals):
    """One group of the free-issue report."""

    key: str


class FreeIssueReport(ReportPeriod):
    """Free Basic Electricity issued in ``[from, to)``, grouped ``by``."""

    by: _VEND_GROUPS
    items: list[FreeIssueLineView]
    totals: FreeIssueTotals


class DebtRecoveryTotals(_Out):
    """Debt lines recovered, amount (VAT included), VAT, net."""

    recoveries: int
    amount: int
    vat: int
    net: int


class DebtRecoveryLineView(DebtRecoveryTotals):
    """One group of the debt-recovery report (``debt``: the debt id)."""

    key: str


class DebtRecoveryReport(ReportPeriod):
    """Debt recovered by sales in ``[from, to)``, grouped ``by``."""

    by: Literal["day", "month", "year", "channel", "vendor", "debt"]
    items: list[DebtRecoveryLineView]
    totals: DebtRecoveryTotals


class ReversalTotals(_Out):
    """Sales reversed: count, gross, VAT, commission."""

    reversals: int
    gross: int
    vat: int
    commission: int


class ReversalLineView(ReversalTotals):
    """One group of the reversals report."""

    key: str


class ReversalReport(ReportPeriod):
    """Reversals by reversal time in ``[from, to)``, grouped ``by``."""

    by: Literal["day", "month", "year", "operator", "channel", "vendor"]
    items: list[ReversalLineView]
    totals: ReversalTotals


class ReprintTotals(_Out):
    """Reprints done through the admin API."""

    reprints: int


class ReprintLineView(ReprintTotals):
    """One group of the reprints report."""

    key: str


class ReprintReport(ReportPeriod):
    """Admin reprints in ``[from, to)``, grouped ``by``."""

    by: Literal["day", "month", "year", "operator"]
    items: list[ReprintLineView]
    totals: ReprintTotals


class MaintenanceTotals(_Out):
    """Maintenance requests opened and resolved."""

    opened: int
    resolved: int


class MaintenanceLineView(MaintenanceTotals):
    """One group of the maintenance report (``status``: the current status)."""

    key: str


class MaintenanceReport(ReportPeriod):
    """Maintenance requests opened and resolved in ``[from, to)``, grouped ``by``."""

    by: Literal["day", "month", "year", "status"]
    items: list[MaintenanceLineView]
    totals: MaintenanceTotals


class ReconciliationTotals(_Out):
    """Payments against vends: what does not match, counts and amounts."""

    paid_not_vended: int
    paid_not_vended_amount: int
    vended_not_paid: int
    vended_not_paid_gross: int
    mismatched: int
    mismatch: int
    conflicts: int
    conflict_amount: int


class ReconciliationLineView(ReconciliationTotals):
    """One group of the reconciliation report."""

    key: str


class ReconciliationReport(ReportPeriod):
    """Payments against vends in ``[from, to)``, grouped ``by``."""

    by: Literal["day", "month", "year", "channel"]
    items: list[ReconciliationLineView]
    totals: ReconciliationTotals


class IdleMeterView(_Out):
    """An idle meter (since ``since``, or never: ``idle_days`` null) or one buying little.

    Energy in tenths of a kWh (see ``vending_core.service.report_records.AbnormalMeter``).
    """

    meter_number: str
    sgc: str
    ti: int
    status: MeterStatus
    fbe_registered: bool
    customer_id: int | None
    account_number: str | None
    customer_name: str | None
    last_purchase_at: AwareDatetime | None
    idle_days: int | None
    avg_month_tenths: int
    last_month_tenths: int
    fbe_only: bool
    blocked: bool
    reason: Literal["idle", "below-average"]


class AbnormalReport(_Out):
    """Meters without a purchase in ``days`` days (before ``since``), a page of them.

    With ``below`` (else null) also meters whose last 30 days' credit energy is under
    ``below`` % of their 12-month monthly average (``reason`` ``below-average``).
    """

    days: int
    below: int | None
    since: AwareDatetime
    limit: int
    offset: int
    items: list[IdleMeterView]
