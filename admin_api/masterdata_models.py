"""Request bodies and queries of the master-data routes (pydantic v2, unknown fields refused).

Shapes are checked here (400 ``invalid-request``); rules across fields (tariff blocks rising,
min <= max, STS key data fitting together) are the use cases' (422). Money is integer minor
units; rates, VAT, commission and debt shares are decimals, best sent as strings
(``"0.15"``); energy is integer tenths of a unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from admin_api.models import MAX_BIGINT, Amount, MeterNumber, Page, Reason

__all__ = [
    "DebtCreate",
    "DebtUpdate",
    "MeterInstall",
    "MeterKeyData",
    "MeterReplace",
    "MeterUpdate",
    "SupplyGroupCreate",
    "TariffCreate",
    "TariffQuery",
    "TariffVersionCreate",
    "TopUpRequest",
    "VendingKeyUpload",
    "VendorCreate",
    "VendorQuery",
    "VendorUpdate",
]

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9._-]*$")]
Sgc = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
UtilityName = Literal["electricity", "water", "gas", "time"]
Money = Annotated[int, Field(ge=0, le=10**12, strict=True, description="minor units")]
Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=12, decimal_places=8)]
BaseDate = Literal[1993, 2014, 2035]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Block(_Body):
    """Units up to ``up_to_tenths`` this month (None: no bound, the last) cost ``rate``."""

    up_to_tenths: Annotated[int | None, Field(gt=0, strict=True)] = None
    rate: Annotated[
        Decimal, Field(ge=0, max_digits=18, decimal_places=6, description="minor units/unit")
    ]


class FixedCharge(_Body):
    """A fixed charge (VAT excluded) per day or month since the last purchase."""

    amount: Money
    period: Literal["day", "month"]


class TariffVersionCreate(_Body):
    """A tariff version: blocks (one open block: flat), VAT, charges, limits, FBE policy."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    utility: UtilityName = "electricity"
    blocks: Annotated[list[Block], Field(min_length=1, max_length=20)]
    vat_rate: Share = Decimal("0.15")
    fixed_charge: FixedCharge | None = None
    service_charge: Money = 0
    min_purchase: Money = 0
    max_purchase: Money | None = None
    fbe_monthly_tenths: Annotated[int, Field(ge=0, le=100_000, strict=True)] = 0
    fbe_counts_toward_blocks: bool = True


class TariffCreate(TariffVersionCreate):
    """A new tariff code (stored as version 1)."""

    code: Code


class TariffQuery(Page):
    """Tariff filters: ``code`` starts with, ``utility``; ``all_versions`` lists every one."""

    code: Annotated[str | None, Field(min_length=1, max_length=32)] = None
    utility: UtilityName | None = None
    all_versions: bool = False


class SupplyGroupCreate(_Body):
    """A supply group: SGC, DKGA (2 or 4), current key revision, base date."""

    sgc: Sgc
    name: Annotated[str, Field(min_length=1, max_length=128)]
    dkga: Literal[2, 4]
    key_revision: Annotated[int, Field(ge=1, le=9, strict=True)] = 1
    base_date: BaseDate = 2014


class VendingKeyUpload(_Body):
    """The vending key in hex (8 bytes for DKGA02, 20 for DKGA04); never shown again."""

    key: Annotated[str, Field(pattern=r"^(?:[0-9A-Fa-f]{2}){8,32}$")]


class MeterKeyData(_Body):
    """A physical meter: number (11 or 13 digits, or the 18-digit PAN) and STS key data."""

    number: MeterNumber
    sgc: Sgc
    ti: Annotated[int, Field(ge=0, le=99, strict=True)]
    krn: Annotated[int, Field(ge=1, le=9, strict=True)] = 1
    ea: Literal[7, 11] = 7
    dkga: Literal[2, 4] | None = None
    kt: Literal[0, 1, 2, 3] = 2
    ken: Annotated[int, Field(ge=0, le=255, strict=True)] = 255
    base_date: BaseDate = 2014
    utility: UtilityName = "electricity"


class MeterInstall(MeterKeyData):
    """A meter to install on a tariff, for a customer (optional)."""

    tariff_code: Code
    customer_id: Annotated[int | None, Field(gt=0, le=MAX_BIGINT)] = None
    fbe_registered: bool = False


class MeterUpdate(_Body):
    """``customer_id`` (null: unassign) and/or ``tariff_code``; at least one."""

    customer_id: Annotated[int | None, Field(gt=0, le=MAX_BIGINT)] = None
    tariff_code: Code | None = None


class MeterReplace(_Body):
    """The meter that takes over, and why the old one goes."""

    new_meter: MeterKeyData
    reason: Reason


class DebtCreate(_Body):
    """A debt recovered from purchases: a share of each (percent) or a fixed amount."""

    description: Annotated[str, Field(min_length=1, max_length=500)]
    outstanding: Annotated[int, Field(gt=0, le=10**12, strict=True)]
    mode: Literal["percent", "fixed"]
    value: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=8)]
    taxed: bool = False


class DebtUpdate(_Body):
    """What to change; ``"outstanding": 0`` writes the debt off."""

    description: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    outstanding: Annotated[int | None, Field(ge=0, le=10**12, strict=True)] = None
    mode: Literal["percent", "fixed"] | None = None
    value: Annotated[Decimal | None, Field(ge=0, max_digits=18, decimal_places=8)] = None
    taxed: bool | None = None


class VendorCreate(_Body):
    """A vendor (vending point): its float starts at 0 and grows by top-ups."""

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=256)]
    channel: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
    credit_limit: Money = 0
    commission: Annotated[Share, Field(lt=1)] = Decimal(0)
    allowed_sgcs: Annotated[list[Sgc], Field(max_length=50)] = []


class VendorUpdate(_Body):
    """What to change (the float itself changes only by top-ups and sales)."""

    name: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    credit_limit: Money | None = None
    commission: Annotated[Share | None, Field(lt=1)] = None
    allowed_sgcs: Annotated[list[Sgc] | None, Field(max_length=50)] = None


class VendorQuery(Page):
    """Vendor filter: ``channel``."""

    channel: Annotated[str | None, Field(min_length=1, max_length=32)] = None


class TopUpRequest(_Body):
    """Money added to a vendor's float; the reference makes a retry safe (same top-up)."""

    amount: Amount
    reference: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S+$")]
