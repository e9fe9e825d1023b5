"""One contract for the master-data queries of the admin repository: memory, SQLite, PostgreSQL.

Tariffs list the newest version of each code (or every version) by code then version, filtered
by code prefix and utility; supply groups by SGC; vendors by code and channel; a vendor's
ledger and a meter's debts (paid ones too) in insertion order; every list pages.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from sts import Utility
from tests.contract.conftest import AddMeter, Backend
from vending_core.domain.model import Block, Debt, DebtMode, SupplyGroup, Tariff, Vendor
from vending_core.domain.records import VendorEntry

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _tariff(code: str, version: int, utility: Utility = Utility.ELECTRICITY) -> Tariff:
    return Tariff(
        code=code,
        version=version,
        name=f"{code} v{version}",
        utility=utility,
        blocks=(Block(up_to_tenths=None, rate=Decimal("160.5")),),
    )


async def test_tariffs_newest_or_every_version_filtered_and_paged(backend: Backend) -> None:
    """Stored: RES v1, v2, v3; RES_B v1 (water); BUS v1. Newest: BUS v1, RES v3, RES_B v1.

    ``RES_`` is a literal prefix (the underscore is not a wildcard), so it finds only RES_B;
    every version of RES* in order is RES 1, 2, 3 then RES_B 1; a page of 2 from offset 1 of
    that is RES 2, RES 3.
    """
    async with backend.new_uow() as uow:
        for tariff in (
            _tariff("RES", 2),
            _tariff("RES", 1),
            _tariff("BUS", 1),
            _tariff("RES", 3),
            _tariff("RES_B", 1, Utility.WATER),
        ):
            await uow.tariffs.add(tariff)
        await uow.commit()
    async with backend.new_uow() as uow:
        admin = uow.admin

        async def keys(**filters: object) -> list[tuple[str, int]]:
            args: dict[str, object] = {"code": None, "utility": None, "every_version": False}
            args |= {"limit": 50, "offset": 0} | filters
            return [(t.code, t.version) for t in await admin.list_tariffs(**args)]  # type: ignore[arg-type]

        assert await keys() == [("BUS", 1), ("RES", 3), ("RES_B", 1)]
        assert await keys(code="RES_") == [("RES_B", 1)]
        assert await keys(utility=Utility.WATER) == [("RES_B", 1)]
        assert await keys(code="RES", every_version=True) == [
            ("RES", 1),
            ("RES", 2),
            ("RES", 3),
            ("RES_B", 1),
        ]
        assert await keys(code="RES", every_version=True, limit=2, offset=1) == [
            ("RES", 2),
            ("RES", 3),
        ]
        versions = await admin.tariff_versions("RES")
        assert versions == [_tariff("RES", 1), _tariff("RES", 2), _tariff("RES", 3)]
        assert await admin.tariff_versions("NONE") == []


async def test_supply_groups_and_vendors_list_in_key_order(backend: Backend) -> None:
    """Groups by SGC (201457 before 600727); vendors by code, filtered by channel and paged."""
    async with backend.new_uow() as uow:
        for sgc in ("600727", "201457"):
            group = SupplyGroup(
                sgc=sgc, name=sgc, key_ref=f"{sgc}:1", dkga=4, key_revision=1, base_date=2014
            )
            await uow.supply_groups.add(group)
        for code, channel in (("ZED", "pos"), ("ABC", "bank"), ("MID", "pos")):
            vendor = Vendor(
                code=code,
                name=code,
                channel=channel,
                commission=Decimal("0.025"),
                allowed_sgcs=("201457",),
            )
            await uow.vendors.add(vendor)
        await uow.commit()
    async with backend.new_uow() as uow:
        groups = await uow.admin.list_supply_groups(limit=10, offset=0)
        assert [g.sgc for g in groups] == ["201457", "600727"]
        assert [g.sgc for g in await uow.admin.list_supply_groups(limit=1, offset=1)] == ["600727"]
        every = await uow.admin.list_vendors(channel=None, limit=10, offset=0)
        assert [v.code for v in every] == ["ABC", "MID", "ZED"]
        assert every[0].commission == Decimal("0.025")
        assert every[0].allowed_sgcs == ("201457",)
        pos = await uow.admin.list_vendors(channel="pos", limit=10, offset=0)
        assert [v.code for v in pos] == ["MID", "ZED"]
        assert [v.code for v in await uow.admin.list_vendors(channel="pos", limit=1, offset=1)] == [
            "ZED"
        ]


async def test_vendor_ledger_pages_oldest_first(backend: Backend) -> None:
    """Three movements of +5 000, -1 200, +300 leave 5 000, 3 800, 4 100 (running sums)."""
    async with backend.new_uow() as uow:
        vendor_id = await uow.vendors.add(Vendor(code="POS-1", name="p", channel="pos"))
        other_id = await uow.vendors.add(Vendor(code="POS-2", name="q", channel="pos"))
        for amount, kind in ((5_000, "top_up"), (-1_200, "sale"), (300, "top_up")):
            entry = VendorEntry(
                vendor_id=vendor_id, at=T0, amount=amount, balance_after=0, kind=kind
            )
            await uow.vendors.move(entry)
        await uow.vendors.move(
            VendorEntry(vendor_id=other_id, at=T0, amount=9, balance_after=0, kind="top_up")
        )
        await uow.commit()
    async with backend.new_uow() as uow:
        entries = await uow.admin.vendor_entries(vendor_id, limit=10, offset=0)
        assert [(e.amount, e.balance_after, e.kind) for e in entries] == [
            (5_000, 5_000, "top_up"),
            (-1_200, 3_800, "sale"),
            (300, 4_100, "top_up"),
        ]
        assert entries[0].at == T0
        second = await uow.admin.vendor_entries(vendor_id, limit=1, offset=1)
        assert [e.amount for e in second] == [-1_200]


async def test_debts_of_a_meter_include_paid_ones_and_get_by_id(
    backend: Backend, add_meter: AddMeter
) -> None:
    """A paid debt (outstanding 0) is listed too, unlike ``debts.for_meter``; get finds by id."""
    async with backend.new_uow() as uow:
        meter_id = await add_meter(uow)
        other = await add_meter(uow, number="01234567897", pan="600727012345678976")
        debt = Debt(
            meter_id=meter_id,
            description="arrears",
            outstanding=15_000,
            mode=DebtMode.PERCENT,
            value=Decimal("0.25"),
            created_at=T0,
        )
        first = await uow.debts.add(debt)
        paid = await uow.debts.add(replace(debt, description="old", outstanding=0))
        await uow.debts.add(replace(debt, meter_id=other))
        await uow.commit()
    async with backend.new_uow() as uow:
        listed = await uow.admin.list_debts(meter_id, limit=10, offset=0)
        assert [(d.id, d.outstanding) for d in listed] == [(first, 15_000), (paid, 0)]
        assert [d.id for d in await uow.debts.for_meter(meter_id)] == [first]
        assert [d.id for d in await uow.admin.list_debts(meter_id, limit=1, offset=1)] == [paid]
        assert await uow.admin.get_debt(first) == replace(debt, id=first)
        assert await uow.admin.get_debt(999_999) is None
