"""A vending core seeded with one utility, shared by service, adapter and bench code.

Key data come from the public STS vectors (DKGA04 vending key ABAB…4567, SGC 201457), so
every token the core issues can be checked on the reference meter ``sts.Meter``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sts
from vending_core.domain.model import (
    Block,
    Customer,
    Debt,
    DebtMode,
    Meter,
    SupplyGroup,
    Tariff,
    Vendor,
)
from vending_core.service.core import Core, RequestContext, key_ref_for

VENDING_KEY = bytes.fromhex("ABABABABABABABAB949494949494949401234567")
SGC = "201457"
OTHER_SGC = "201458"
PAN = "600727000000000009"  # DRN 00000000000
FLAT = Tariff(
    code="FLAT",
    version=1,
    name="Flat R2.00/kWh",
    utility=sts.Utility.ELECTRICITY,
    blocks=(Block(up_to_tenths=None, rate=Decimal(200)),),
    vat_rate=Decimal("0.15"),
    min_purchase=500,
    max_purchase=1_000_000,
    fbe_monthly_tenths=500,
)


class Clock:
    """A settable clock: tests move time explicitly."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        """The current (test) time."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


@dataclass
class World:
    """The core under test and handles to drive it."""

    core: Core
    clock: Clock
    meter_number: str
    next_request: Callable[..., RequestContext]

    def reference_meter(self, *, base_date: int = 2014, krn: int = 1) -> sts.Meter:
        """A reference meter keyed like the demo meter (DKGA04, EA07)."""
        return sts.Meter.provision(
            vending_key=VENDING_KEY,
            dkga=4,
            pan=sts.Pan.parse(PAN),
            sgc=SGC,
            ti=1,
            krn=krn,
            kt=sts.KeyType.DUTK,
            base_date=base_date,
            ea=7,
        )


async def seed(core: Core, *, fbe: bool = False, debt: int = 0) -> str:
    """Load a supply group, keys, the flat tariff, a vendor and one meter with a customer."""
    await core.keys.store(key_ref_for(SGC, 1), VENDING_KEY)
    await core.keys.store(key_ref_for(SGC, 2), VENDING_KEY[::-1])
    await core.keys.store(key_ref_for(OTHER_SGC, 1), VENDING_KEY)
    async with core.uow() as uow:
        for sgc in (SGC, OTHER_SGC):
            await uow.supply_groups.add(
                SupplyGroup(
                    sgc=sgc,
                    name=sgc,
                    key_ref=key_ref_for(sgc, 1),
                    dkga=4,
                    key_revision=1,
                    base_date=2014,
                )
            )
        await uow.tariffs.add(FLAT)
        customer_id = await uow.customers.add(
            Customer(account_number="ACC-1", name="Amina Njeri", address="12 Moi Ave")
        )
        meter_id = await uow.meters.add(
            Meter(
                number="00000000000",
                pan=PAN,
                sgc=SGC,
                ti=1,
                krn=1,
                base_date=2014,
                ea=7,
                dkga=4,
                tariff_code="FLAT",
                customer_id=customer_id,
                fbe_registered=fbe,
            )
        )
        if debt:
            await uow.debts.add(
                Debt(
                    meter_id=meter_id,
                    description="arrears",
                    outstanding=debt,
                    mode=DebtMode.PERCENT,
                    value=Decimal("0.25"),
                )
            )
        await uow.vendors.add(
            Vendor(
                code="BANK1",
                name="Bank One",
                channel="api",
                balance=10_000,
                credit_limit=5_000,
                commission=Decimal("0.02"),
            )
        )
        await uow.commit()
    return "00000000000"
