"""The vending domain's entities and value objects.

Money is integer minor units (cents) everywhere; tariff rates are ``Decimal`` minor
units per unit (VAT excluded); energy is integer tenths of a unit (0.1 kWh); times are
timezone-aware UTC. Entities are plain dataclasses: repositories load and save them,
use cases change them inside a unit of work, and nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sts import KeyType, Utility

__all__ = [
    "Block",
    "ChargePeriod",
    "Customer",
    "Debt",
    "DebtMode",
    "FixedCharge",
    "Meter",
    "MeterStatus",
    "SupplyGroup",
    "Tariff",
    "Vendor",
]


class MeterStatus(enum.StrEnum):
    """Whether the utility sells to a meter."""

    ACTIVE = "active"
    BLOCKED = "blocked"
    REPLACED = "replaced"  #: taken out of service, another meter took over (never sold to)


class ChargePeriod(enum.StrEnum):
    """How a fixed charge accrues between purchases."""

    DAY = "day"
    MONTH = "month"


class DebtMode(enum.StrEnum):
    """How a debt is recovered from each purchase."""

    PERCENT = "percent"  #: a share of the gross amount
    FIXED = "fixed"  #: a fixed amount per purchase


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One step of a tariff: units up to ``up_to_tenths`` in the month cost ``rate``.

    ``up_to_tenths`` is the cumulative monthly upper bound (None: no bound, the last
    block). ``rate`` is minor units per unit, VAT excluded (Decimal("160") = R1.60/kWh).
    """

    up_to_tenths: int | None
    rate: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedCharge:
    """A fixed charge (VAT excluded) accrued per day or per month since the last purchase."""

    amount: int
    period: ChargePeriod


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff:
    """A priced tariff version. Flat tariffs have one block with no upper bound.

    Blocks count units purchased per calendar month (utility time zone). A new version
    is stored for every change; a vend records the version it used.
    """

    code: str
    version: int
    name: str
    utility: Utility
    blocks: tuple[Block, ...]
    vat_rate: Decimal = Decimal("0.15")
    fixed_charge: FixedCharge | None = None
    service_charge: int = 0  #: per vend, VAT excluded
    min_purchase: int = 0  #: gross, minor units
    max_purchase: int | None = None
    fbe_monthly_tenths: int = 0  #: Free Basic Electricity per month (0: none)
    fbe_counts_toward_blocks: bool = True


@dataclass(slots=True, kw_only=True)
class Debt:
    """An amount a customer owes, recovered from purchases until paid."""

    id: int | None = None
    meter_id: int | None = None
    description: str
    outstanding: int
    mode: DebtMode
    value: Decimal  #: PERCENT: share of gross (Decimal("0.25")); FIXED: minor units
    taxed: bool = False  #: recovery carries VAT (default: taken at face value)
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplyGroup:
    """A supply group: its SGC and the reference of its vending key in the key store."""

    sgc: str
    name: str
    key_ref: str
    dkga: int  #: 2 or 4
    key_revision: int  #: KRN of the current vending key
    base_date: int


@dataclass(slots=True, kw_only=True)
class Customer:
    """A customer account."""

    id: int | None = None
    account_number: str
    name: str
    address: str = ""
    phones: tuple[str, ...] = ()
    language: str = "en"  #: en, ar, fr, sw


@dataclass(slots=True, kw_only=True)
class Meter:
    """A prepaid meter, its STS key data and the counters a vend moves.

    ``pan`` is the 18-digit STS PAN; ``number`` is what is printed on the meter and typed
    by customers (the DRN). Counters: ``last_tid`` (TIDs never repeat for a meter),
    ``month``/``month_tenths`` (units bought this calendar month, for block tariffs),
    ``charged_up_to`` (fixed charges are paid up to this day), ``last_fbe_month``.
    """

    id: int | None = None
    number: str
    pan: str
    utility: Utility = Utility.ELECTRICITY
    sgc: str
    ti: int
    krn: int
    kt: KeyType = KeyType.DUTK
    ken: int = 255
    base_date: int = 2014
    ea: int = 7
    dkga: int = 4
    tariff_code: str
    customer_id: int | None = None
    status: MeterStatus = MeterStatus.ACTIVE
    blocked_reason: str | None = None
    fbe_registered: bool = False
    last_tid: int | None = None
    month: str | None = None  #: "YYYY-MM" that month_tenths counts
    month_tenths: int = 0
    charged_up_to: date | None = None
    charges_owing: int = 0  #: fixed charges accrued but not yet covered by a purchase
    last_fbe_month: str | None = None
    last_purchase_at: datetime | None = None
    installed_at: datetime | None = None


@dataclass(slots=True, kw_only=True)
class Vendor:
    """A seller (bank, agent, POS, the USSD channel itself) with a float and credit limit.

    ``balance`` goes down with every sale; the vendor may sell while
    ``balance + credit_limit`` covers the sale. ``commission`` is a share of the gross.
    """

    id: int | None = None
    code: str
    name: str
    channel: str
    balance: int = 0
    credit_limit: int = 0
    commission: Decimal = field(default_factory=lambda: Decimal(0))
    allowed_sgcs: tuple[str, ...] = ()  #: empty: every supply group
