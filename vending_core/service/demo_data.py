"""Demo data: a small utility to try Vendgate with, on any database.

Test keys only: the vending keys are the public STS compliance-test keys
(``ABABABABABABABAB`` for DKGA02, ``ABAB…4567`` for DKGA04), so every token can be
decoded by anyone. Never load this into a production database.

* SGC 123456: DKGA02 / EA07 meters (64-bit keys, STA).
* SGC 201457: DKGA04 meters, EA07 and EA11 (MISTY1, 128-bit keys).
* Tariffs: ``RES-BLOCK`` (inclining blocks 0-100 kWh @ R1.60, 100-350 @ R2.00, above
  @ R2.40, VAT 15 %, R50.00/month fixed charge, 50 kWh FBE) and ``BUS-FLAT`` (R2.00/kWh).
* Twelve customers and meters; the first owes R150.00 (25 % recovered per purchase);
  meters 1, 2 and 7 are registered for Free Basic Electricity.
* Vendor ``DEMO-POS`` with a R10,000.00 float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sts
from vending_core.domain.model import (
    Block,
    ChargePeriod,
    Customer,
    Debt,
    DebtMode,
    FixedCharge,
    Meter,
    SupplyGroup,
    Tariff,
    Vendor,
)
from vending_core.service.core import Core, key_ref_for

__all__ = ["DEMO_METERS", "DemoMeter", "load_demo_data"]

DKGA02_KEY = bytes.fromhex("ABABABABABABABAB")
DKGA04_KEY = bytes.fromhex("ABABABABABABABAB949494949494949401234567")

RES_BLOCK = Tariff(
    code="RES-BLOCK",
    version=1,
    name="Residential inclining block",
    utility=sts.Utility.ELECTRICITY,
    blocks=(
        Block(up_to_tenths=1000, rate=Decimal(160)),
        Block(up_to_tenths=3500, rate=Decimal(200)),
        Block(up_to_tenths=None, rate=Decimal(240)),
    ),
    vat_rate=Decimal("0.15"),
    fixed_charge=FixedCharge(amount=5000, period=ChargePeriod.MONTH),
    min_purchase=500,
    max_purchase=500_000,
    fbe_monthly_tenths=500,
)
BUS_FLAT = Tariff(
    code="BUS-FLAT",
    version=1,
    name="Business flat",
    utility=sts.Utility.ELECTRICITY,
    blocks=(Block(up_to_tenths=None, rate=Decimal(200)),),
    vat_rate=Decimal("0.15"),
    min_purchase=500,
    max_purchase=1_000_000,
)


@dataclass(frozen=True, slots=True)
class DemoMeter:
    """One demo meter: its number and key data (to decode its tokens on sts.Meter)."""

    number: str
    customer: str
    sgc: str
    dkga: int
    ea: int
    tariff: str
    fbe: bool = False

    def to_meter(self, customer_id: int, *, number: str | None = None) -> Meter:
        """The stored meter: this one, or a copy numbered ``number`` (same keys, no FBE)."""
        return Meter(
            number=number or self.number,
            pan=sts.Pan.parse(number or self.number).digits,
            sgc=self.sgc,
            ti=1,
            krn=1,
            base_date=2014,
            ea=self.ea,
            dkga=self.dkga,
            tariff_code=self.tariff,
            customer_id=customer_id,
            fbe_registered=self.fbe and number is None,
        )

    def reference_meter(self) -> sts.Meter:
        """A fresh STS reference meter with this meter's keys (KRN 1, TI 1, base 2014)."""
        return sts.Meter.provision(
            vending_key={2: DKGA02_KEY, 4: DKGA04_KEY}[self.dkga],
            dkga=self.dkga,
            pan=sts.Pan.parse(self.number),
            sgc=self.sgc,
            ti=1,
            krn=1,
            kt=sts.KeyType.DUTK,
            base_date=2014,
            ea=self.ea,
        )


_NAMES = (
    "Amina Njeri",
    "Kwame Mensah",
    "Fatima Bello",
    "Youssef Haddad",
    "Grace Achieng",
    "Ibrahim Diallo",
    "Nadia Benali",
    "Samuel Okoro",
    "Leila Mansour",
    "Joseph Mwangi",
    "Aïcha Traoré",
    "Omar Farouk",
)


def drn(n: int) -> str:
    """Meter number ``n`` of the demo's numbering: 10 digits and a Luhn check digit."""
    base = f"{n:010d}"
    return base + str(sts.identifiers.luhn_digit(base))


# (SGC, DKGA, EA, tariff, FBE) of meters 1..12
_LAYOUT = (
    *[("123456", 2, 7, "RES-BLOCK", n in (1, 2)) for n in range(1, 6)],
    ("123456", 2, 7, "BUS-FLAT", False),
    ("201457", 4, 7, "RES-BLOCK", True),
    ("201457", 4, 7, "RES-BLOCK", False),
    ("201457", 4, 7, "RES-BLOCK", False),
    ("201457", 4, 11, "RES-BLOCK", False),
    ("201457", 4, 11, "RES-BLOCK", False),
    ("201457", 4, 11, "BUS-FLAT", False),
)

DEMO_METERS = tuple(
    DemoMeter(number=drn(n), customer=name, sgc=sgc, dkga=dkga, ea=ea, tariff=tariff, fbe=fbe)
    for n, (name, (sgc, dkga, ea, tariff, fbe)) in enumerate(zip(_NAMES, _LAYOUT, strict=True), 1)
)


async def load_demo_data(core: Core) -> bool:
    """Load the demo utility unless it is there already; True when it was loaded."""
    async with core.uow() as uow:
        if await uow.supply_groups.get("123456") is not None:
            return False
        for sgc, dkga, name in (("123456", 2, "Demo DKGA02"), ("201457", 4, "Demo DKGA04")):
            await uow.supply_groups.add(
                SupplyGroup(
                    sgc=sgc,
                    name=name,
                    key_ref=key_ref_for(sgc, 1),
                    dkga=dkga,
                    key_revision=1,
                    base_date=2014,
                )
            )
        await uow.tariffs.add(RES_BLOCK)
        await uow.tariffs.add(BUS_FLAT)
        for index, demo in enumerate(DEMO_METERS, start=1):
            customer_id = await uow.customers.add(
                Customer(
                    account_number=f"DEMO-{index:03d}",
                    name=demo.customer,
                    address=f"{index} Demo Street",
                    phones=(f"+25470000{index:04d}",),
                )
            )
            meter_id = await uow.meters.add(demo.to_meter(customer_id))
            if index == 1:
                await uow.debts.add(
                    Debt(
                        meter_id=meter_id,
                        description="arrears",
                        outstanding=15_000,
                        mode=DebtMode.PERCENT,
                        value=Decimal("0.25"),
                    )
                )
        await uow.vendors.add(
            Vendor(
                code="DEMO-POS",
                name="Demo point of sale",
                channel="pos",
                balance=1_000_000,
                credit_limit=0,
            )
        )
        await uow.commit()
    await core.keys.store(key_ref_for("123456", 1), DKGA02_KEY)
    await core.keys.store(key_ref_for("201457", 1), DKGA04_KEY)
    return True
