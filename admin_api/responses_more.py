"""Response bodies of the master-data and operations routes (for the OpenAPI document).

Like :mod:`admin_api.responses` (which maps each route to these models in ``RESPONSES``),
these pydantic models only *describe* the JSON the handlers build by hand, field for field,
and forbid unknown fields (``additionalProperties: false``): a field a handler adds must be
added here too, or the schemathesis property test fails. Money is in minor units, energy in
tenths of a unit, decimals (rates, shares) as exact strings, times ISO 8601 with an offset.
The reports' models are in :mod:`admin_api.responses_reports`.

Model names must not repeat a request model's name or one nested in it (``Block``,
``FixedCharge``, ``MeterKeyData``...): the document keeps both in one ``components/schemas``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from admin_api.masterdata_models import UtilityName
from admin_api.responses_reports import ReportPeriod
from vending_core.domain.model import ChargePeriod, DebtMode, MeterStatus
from vending_core.domain.payments import VoucherStatus
from vending_core.domain.records import MaintenanceStatus
from vending_core.service.shift_records import ShiftStatus

__all__ = [
    "DebtPage",
    "DebtView",
    "KeyStoredAnswer",
    "MaintenancePage",
    "MaintenanceView",
    "MeterRecord",
    "MeterReplaced",
    "NewVoucherBatch",
    "ShiftPage",
    "ShiftReport",
    "ShiftView",
    "SupplyGroupDetail",
    "SupplyGroupPage",
    "SupplyGroupView",
    "TariffHistory",
    "TariffPage",
    "TariffView",
    "TopUpAnswer",
    "VendorEntryPage",
    "VendorPage",
    "VendorView",
    "VoucherBatchDetail",
    "VoucherBatchPage",
    "VoucherBatchView",
    "VoucherBatchVoided",
]

_DECIMAL = "an exact decimal as text"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Paged(_Out):
    """``limit`` and ``offset`` as asked, beside the page's ``items``."""

    limit: int
    offset: int


# --- tariffs and supply groups ----------------------------------------------------------------


class BlockView(_Out):
    """A tariff step: units up to ``up_to_tenths`` a month (null: no bound) cost ``rate``."""

    up_to_tenths: int | None
    rate: Annotated[str, Field(description=_DECIMAL)]


class FixedChargeView(_Out):
    """A fixed charge (VAT excluded) per day or month since the last purchase."""

    amount: int
    period: ChargePeriod


class TariffView(_Out):
    """A tariff version (rates and VAT as exact decimal strings)."""

    code: str
    version: int
    name: str
    utility: UtilityName
    blocks: list[BlockView]
    vat_rate: Annotated[str, Field(description=_DECIMAL)]
    fixed_charge: FixedChargeView | None
    service_charge: int
    min_purchase: int
    max_purchase: int | None
    fbe_monthly_tenths: int
    fbe_counts_toward_blocks: bool


class TariffPage(_Paged):
    """One page of tariffs (the newest version of each code unless ``all_versions``)."""

    items: list[TariffView]


class TariffHistory(_Out):
    """A tariff code: its current version and every version, oldest first."""

    code: str
    current: TariffView
    versions: list[TariffView]


class SupplyGroupView(_Out):
    """A supply group (``key_ref`` names its key in the key store; the key is never shown)."""

    sgc: str
    name: str
    dkga: int
    key_revision: int
    base_date: int
    key_ref: str


class SupplyGroupPage(_Paged):
    """One page of supply groups."""

    items: list[SupplyGroupView]


class SupplyGroupDetail(SupplyGroupView):
    """A supply group and whether its current key revision has a key stored."""

    key_stored: bool


class KeyStoredAnswer(_Out):
    """Revision ``krn`` of the supply group now has a key (the key is not echoed)."""

    sgc: str
    krn: int
    key_stored: Literal[True]


# --- meters and debts -------------------------------------------------------------------------


class MeterRecord(_Out):
    """A meter's master data and status (its STS key data are public identifiers)."""

    id: int
    number: str
    pan: str
    utility: UtilityName
    sgc: str
    ti: int
    krn: int
    kt: int
    ken: int
    ea: int
    dkga: int
    base_date: int
    tariff_code: str
    customer_id: int | None
    status: MeterStatus
    blocked_reason: str | None
    fbe_registered: bool
    installed_at: AwareDatetime | None


class ReplacedMeterRecord(MeterRecord):
    """The meter taken out of service, and the number of the one that took over."""

    replaced_by: str


class MeterReplaced(_Out):
    """A replacement: the old meter (now ``replaced``) and the new one."""

    old_meter: ReplacedMeterRecord
    new_meter: MeterRecord


class DebtView(_Out):
    """A debt (``value``: a share of the gross or minor units per purchase, as text)."""

    id: int
    meter_id: int
    description: str
    outstanding: int
    mode: DebtMode
    value: Annotated[str, Field(description=_DECIMAL)]
    taxed: bool
    created_at: AwareDatetime | None


class DebtPage(_Paged):
    """One page of a meter's debts (those paid off too)."""

    items: list[DebtView]


# --- vendors ----------------------------------------------------------------------------------


class VendorView(_Out):
    """A vendor: float ``balance``, ``credit_limit``, what is ``available`` (their sum)."""

    id: int
    code: str
    name: str
    channel: str
    balance: int
    credit_limit: int
    available: int
    commission: Annotated[str, Field(description=_DECIMAL + ": a share of the gross")]
    allowed_sgcs: list[str]


class VendorPage(_Paged):
    """One page of vendors."""

    items: list[VendorView]


class TopUpAnswer(_Out):
    """A float top-up (``replayed``: the reference was used before; nothing moved again)."""

    vendor_code: str
    amount: int
    reference: str
    balance_before: int
    balance_after: int
    at: AwareDatetime
    replayed: bool


class VendorEntryView(_Out):
    """A movement of a vendor's float (``kind``: sale, reversal, top_up...)."""

    at: AwareDatetime
    kind: str
    amount: int
    balance_after: int
    vend_id: int | None


class VendorEntryPage(_Paged):
    """One page of a vendor's float ledger, oldest first."""

    items: list[VendorEntryView]


# --- maintenance and shifts -------------------------------------------------------------------


class MaintenanceView(_Out):
    """A maintenance request of a meter."""

    id: int
    meter_number: str
    description: str
    reported_by: str | None
    opened_at: AwareDatetime
    status: MaintenanceStatus
    engineer: str | None
    solution: str | None
    resolved_at: AwareDatetime | None


class MaintenancePage(_Paged):
    """One page of maintenance requests, oldest first."""

    items: list[MaintenanceView]


class ShiftView(_Out):
    """A vending point's shift."""

    id: int
    vendor_code: str
    opened_by: str
    opened_at: AwareDatetime
    closed_by: str | None
    closed_at: AwareDatetime | None
    status: ShiftStatus


class ShiftPage(_Paged):
    """One page of shifts, newest first."""

    items: list[ShiftView]


class ShiftTotals(_Out):
    """Credit sales and gross, free issues and tenths, reversals, net = gross - reversed."""

    sales: int
    gross: int
    free_issues: int
    free_tenths: int
    reversals: int
    reversed_gross: int
    net: int


class ShiftOperatorLine(ShiftTotals):
    """One operator's totals in the shift."""

    operator: str


class ShiftReport(ReportPeriod):
    """A shift's vends ``[from, to)`` (``to``: closing time, or now while open) per operator."""

    shift: ShiftView
    operators: list[ShiftOperatorLine]
    totals: ShiftTotals


# --- scratch-card batches ---------------------------------------------------------------------


class VoucherBatchView(_Out):
    """A batch summed up: cards by status and their face values (minor units)."""

    batch: str
    currency: str
    face_value: int
    count: int
    active: int
    redeemed: int
    void: int
    total_value: int
    active_value: int
    redeemed_value: int
    created_at: AwareDatetime


class VoucherBatchPage(_Paged):
    """One page of batches."""

    items: list[VoucherBatchView]


class VoucherCardView(_Out):
    """A card without its PIN: serial, status, who redeemed it and when."""

    serial: str
    status: VoucherStatus
    redeemed_at: AwareDatetime | None
    redeemed_by: str | None
    payment_id: str | None


class VoucherBatchDetail(VoucherBatchView):
    """A batch's summary and one page of its cards."""

    items: list[VoucherCardView]
    limit: int
    offset: int


class VoucherBatchVoided(VoucherBatchView):
    """The batch after voiding, and how many cards were voided now."""

    voided: int


class PrintedVoucher(_Out):
    """A new card: its serial and PIN (shown in this answer only)."""

    serial: str
    pin: str


class NewVoucherBatch(_Out):
    """A new batch and every card's serial and PIN, shown once."""

    batch: str
    count: int
    face_value: int
    currency: str
    vouchers: list[PrintedVoucher]
