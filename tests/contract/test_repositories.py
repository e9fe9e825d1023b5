"""Contract of the repository ports and the unit of work, for every implementation.

Each test runs against the in-memory twin, SQLite and PostgreSQL (fixture ``backend``,
tests/contract/conftest.py). Round trips compare whole dataclasses: what goes in comes out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol

import pytest

from sts import Utility
from vending_core.domain.model import (
    Block,
    ChargePeriod,
    Customer,
    Debt,
    DebtMode,
    FixedCharge,
    Meter,
    MeterStatus,
    SupplyGroup,
    Tariff,
    Vendor,
)
from vending_core.domain.records import (
    IssuedToken,
    MaintenanceRequest,
    MaintenanceStatus,
    MeterEvent,
    StoredResponse,
    TokenKind,
    Vend,
    VendKind,
    VendorEntry,
    VendStatus,
)
from vending_core.service import ports
from vending_core.service.ports import MeterDetail


class Backend(Protocol):
    """What the ``backend`` fixture gives (tests/contract/conftest.py)."""

    name: str
    new_uow: Callable[[], ports.UnitOfWork]
    duplicate_tid: type[Exception]


AddMeter = Callable[..., Awaitable[int]]

T0 = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


def make_vend(meter_id: int, *, request_id: str = "msg-1", tids: tuple[int, ...] = (100,)) -> Vend:
    """A credit vend with one credit token per TID plus a key change token (no TID)."""
    tokens = [
        IssuedToken(sequence=1, kind=TokenKind.KEY_CHANGE, token="1" * 20, description="KCT 1")
    ]
    for sequence, tid in enumerate(tids, start=2):
        tokens.append(
            IssuedToken(
                sequence=sequence,
                kind=TokenKind.CREDIT,
                token=f"{tid:020d}",
                tid=tid,
                tenths=253,
                description="25.3 kWh",
            )
        )
    return Vend(
        client_id="6004708001234",
        request_id=request_id,
        kind=VendKind.CREDIT,
        meter_id=meter_id,
        meter_number="04040404040",
        channel="api",
        vendor_code="BANK1",
        operator="teller-7",
        gross=5000,
        commission=125,
        breakdown={"gross": 5000, "vat": 652, "lines": [{"name": "energy", "amount": 4348}]},
        tariff_code="RES",
        tariff_version=3,
        created_at=T0,
        tokens=tuple(tokens),
    )


def make_tariff(version: int = 1) -> Tariff:
    """A block tariff with every field set away from its default."""
    return Tariff(
        code="RES",
        version=version,
        name="Residential",
        utility=Utility.ELECTRICITY,
        blocks=(
            Block(up_to_tenths=500, rate=Decimal("120.5")),
            Block(up_to_tenths=3500, rate=Decimal("160.125")),
            Block(up_to_tenths=None, rate=Decimal("210")),
        ),
        vat_rate=Decimal("0.125"),
        fixed_charge=FixedCharge(amount=1500, period=ChargePeriod.MONTH),
        service_charge=50,
        min_purchase=1000,
        max_purchase=2_000_000,
        fbe_monthly_tenths=500,
        fbe_counts_toward_blocks=False,
    )


class TestUnitOfWork:
    async def test_commit_makes_changes_visible_to_the_next_unit_of_work(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """What a unit of work commits is there for the next one."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.meters.get(meter_id) is not None

    async def test_leaving_without_commit_rolls_back(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """Leaving a unit of work without commit() discards everything it did."""
        async with backend.new_uow() as uow:
            await add_meter(uow)
        async with backend.new_uow() as uow:
            assert await uow.meters.get_by_number("04040404040") is None
            assert await uow.supply_groups.get("600727") is None

    async def test_exception_rolls_back_and_propagates(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """An exception inside the unit of work propagates and nothing is stored."""

        async def fail() -> None:
            async with backend.new_uow() as uow:
                await add_meter(uow)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail()
        async with backend.new_uow() as uow:
            assert await uow.meters.get_by_number("04040404040") is None

    async def test_work_after_commit_needs_another_commit(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """After commit() the unit of work goes on; later changes still need a commit."""
        async with backend.new_uow() as uow:
            first = await add_meter(uow)
            await uow.commit()
            await add_meter(uow, number="05050505050", pan="600727050505050505")
        async with backend.new_uow() as uow:
            assert await uow.meters.get(first) is not None
            assert await uow.meters.get_by_number("05050505050") is None


class TestMeters:
    async def test_round_trip_keeps_every_field(
        self, backend: Backend, add_meter: AddMeter, new_meter: Callable[..., Meter]
    ) -> None:
        """A stored meter comes back equal: enums, dates, aware datetimes, counters."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.meters.get(meter_id) == replace(new_meter(), id=meter_id)

    async def test_found_by_number_and_by_pan_with_or_without_lock(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """get_by_number accepts the printed number or the PAN; lock=True returns the same."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            by_number = await uow.meters.get_by_number("04040404040")
            by_pan = await uow.meters.get_by_number("600727040404040404", lock=True)
            locked = await uow.meters.get(meter_id, lock=True)
        assert by_number is not None
        assert by_number.id == meter_id
        assert by_pan == by_number == locked

    async def test_unknown_meter_is_none(self, backend: Backend) -> None:
        """Lookups of a meter that is not stored return None."""
        async with backend.new_uow() as uow:
            assert await uow.meters.get(424242) is None
            assert await uow.meters.get_by_number("99999999999", lock=True) is None

    async def test_update_round_trip(self, backend: Backend, add_meter: AddMeter) -> None:
        """update() stores every changed field, including clearing optional ones."""
        async with backend.new_uow() as uow:
            meter = await uow.meters.get(await add_meter(uow))
            assert meter is not None
            meter.status, meter.blocked_reason = MeterStatus.ACTIVE, None
            meter.last_tid, meter.month_tenths, meter.last_purchase_at = 5_871_800, 0, None
            await uow.meters.update(meter)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.meters.get(meter.id or 0) == meter

    async def test_number_and_pan_are_unique(self, backend: Backend, add_meter: AddMeter) -> None:
        """A second meter with a stored number, or a stored PAN, is refused (ValueError)."""
        async with backend.new_uow() as uow:
            await add_meter(uow)
            await uow.commit()
        for other in ({"pan": "600727090909090909"}, {"number": "09090909090"}):
            async with backend.new_uow() as uow:
                with pytest.raises(ValueError, match=r"(?i)exist|unique|duplicate"):
                    await add_meter(uow, **other)

    async def test_events_round_trip_in_order(self, backend: Backend, add_meter: AddMeter) -> None:
        """Events come back in the order added, only the asked meter's."""
        async with backend.new_uow() as uow:
            first = await add_meter(uow)
            second = await add_meter(uow, number="05050505050", pan="600727050505050505")
            events = [
                MeterEvent(meter_id=first, at=T0, kind="installed", detail="", actor=None),
                MeterEvent(meter_id=second, at=T0, kind="installed", detail="x", actor="ops"),
                MeterEvent(meter_id=first, at=T0, kind="blocked", detail="tamper", actor="ops"),
            ]
            for event in events:
                await uow.meters.add_event(event)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.meters.events(first) == [events[0], events[2]]
            assert await uow.meters.events(second) == [events[1]]

    async def test_detail_has_customer_newest_tariff_and_outstanding_debts(
        self, backend: Backend, add_meter: AddMeter, new_meter: Callable[..., Meter]
    ) -> None:
        """get_detail: the meter, its customer, its tariff's newest version, its open debts.

        By number or by PAN, locked or not; debts oldest first, without paid ones or another
        meter's; a newer version of another tariff code is not picked up.
        """
        customer = Customer(account_number="ACC-9", name="Ama", address="Accra", phones=("1",))
        async with backend.new_uow() as uow:
            other = await add_meter(uow)
            customer_id = await uow.customers.add(customer)
            meter = replace(
                new_meter(number="05050505050", pan="600727050505050505"),
                customer_id=customer_id,
            )
            meter_id = await uow.meters.add(meter)
            for tariff in (make_tariff(1), make_tariff(2), replace(make_tariff(3), code="BIZ")):
                await uow.tariffs.add(tariff)
            debts = [
                Debt(meter_id=meter_id, description="arrears", outstanding=10_000,
                     mode=DebtMode.PERCENT, value=Decimal("0.25"), taxed=True, created_at=T0),
                Debt(meter_id=meter_id, description="paid", outstanding=0,
                     mode=DebtMode.FIXED, value=Decimal("500")),
                Debt(meter_id=other, description="other meter", outstanding=99,
                     mode=DebtMode.FIXED, value=Decimal("1")),
                Debt(meter_id=meter_id, description="loan", outstanding=2_500,
                     mode=DebtMode.FIXED, value=Decimal("250.50")),
            ]  # fmt: skip
            ids = [await uow.debts.add(debt) for debt in debts]
            await uow.commit()
        expected = MeterDetail(
            replace(meter, id=meter_id),
            replace(customer, id=customer_id),
            make_tariff(2),
            (replace(debts[0], id=ids[0]), replace(debts[3], id=ids[3])),
        )
        async with backend.new_uow() as uow:
            assert await uow.meters.get_detail("05050505050") == expected
            assert await uow.meters.get_detail("600727050505050505", lock=True) == expected

    async def test_detail_of_a_bare_meter_and_of_an_unknown_one(
        self, backend: Backend, add_meter: AddMeter, new_meter: Callable[..., Meter]
    ) -> None:
        """No customer, no stored tariff, no debts: None, None, (); an unknown number: None."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            bare = await uow.meters.get_detail("04040404040", lock=True)
            assert await uow.meters.get_detail("99999999999") is None
            assert await uow.meters.get_detail("99999999999", lock=True) is None
        assert bare == MeterDetail(replace(new_meter(), id=meter_id), None, None, ())


class TestCustomers:
    async def test_round_trip_by_id_and_account_then_update(self, backend: Backend) -> None:
        """A customer (phones tuple) comes back by id and by account; update() stores edits."""
        customer = Customer(
            account_number="ACC-1",
            name="Ama Mensah",
            address="12 Ring Road, Accra",
            phones=("+233201234567", "+233501234567"),
            language="fr",
        )
        async with backend.new_uow() as uow:
            customer_id = await uow.customers.add(customer)
            await uow.commit()
        stored = replace(customer, id=customer_id)
        async with backend.new_uow() as uow:
            assert await uow.customers.get(customer_id) == stored
            assert await uow.customers.get_by_account("ACC-1") == stored
            assert await uow.customers.get_by_account("ACC-2") is None
            assert await uow.customers.get(customer_id + 1000) is None
            stored.phones, stored.language = (), "sw"
            await uow.customers.update(stored)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.customers.get(customer_id) == stored

    async def test_account_number_is_unique(
        self, backend: Backend, request: pytest.FixtureRequest
    ) -> None:
        """A second customer with a stored account number is refused (ValueError)."""
        async with backend.new_uow() as uow:
            await uow.customers.add(Customer(account_number="ACC-1", name="A"))
            with pytest.raises(ValueError, match=r"(?i)exist|unique|duplicate"):
                await uow.customers.add(Customer(account_number="ACC-1", name="B"))


class TestTariffs:
    async def test_round_trip_keeps_blocks_decimals_and_fixed_charge(
        self, backend: Backend
    ) -> None:
        """A tariff comes back equal: block tuple, exact Decimal rates, VAT, fixed charge."""
        flat = replace(make_tariff(), code="FLAT", fixed_charge=None, max_purchase=None)
        async with backend.new_uow() as uow:
            await uow.tariffs.add(make_tariff())
            await uow.tariffs.add(flat)
            await uow.commit()
        async with backend.new_uow() as uow:
            got = await uow.tariffs.version("RES", 1)
            assert got == make_tariff()
            assert got is not None
            assert [str(block.rate) for block in got.blocks] == ["120.5", "160.125", "210"]
            assert await uow.tariffs.current("FLAT") == flat

    async def test_current_is_the_newest_version(self, backend: Backend) -> None:
        """current() returns the highest version; version() any stored one; unknown is None."""
        async with backend.new_uow() as uow:
            for version in (1, 3, 2):
                await uow.tariffs.add(replace(make_tariff(version), name=f"v{version}"))
            await uow.commit()
        async with backend.new_uow() as uow:
            current = await uow.tariffs.current("RES")
            assert current is not None
            assert (current.version, current.name) == (3, "v3")
            assert await uow.tariffs.version("RES", 2) == replace(make_tariff(2), name="v2")
            assert await uow.tariffs.version("RES", 4) is None
            assert await uow.tariffs.current("NONE") is None

    async def test_code_and_version_are_unique(self, backend: Backend) -> None:
        """Adding a stored (code, version) again is refused (ValueError)."""
        async with backend.new_uow() as uow:
            await uow.tariffs.add(make_tariff())
            with pytest.raises(ValueError, match=r"(?i)exist|unique|duplicate"):
                await uow.tariffs.add(replace(make_tariff(), name="again"))


class TestSupplyGroups:
    async def test_round_trip_update_and_unique_sgc(self, backend: Backend) -> None:
        """A supply group comes back by SGC; update() stores a new KRN; a duplicate SGC fails."""
        group = SupplyGroup(
            sgc="123456", name="North", key_ref="k-1", dkga=2, key_revision=1, base_date=1993
        )
        async with backend.new_uow() as uow:
            await uow.supply_groups.add(group)
            await uow.commit()
        rekeyed = replace(group, key_ref="k-2", key_revision=2, base_date=2014)
        async with backend.new_uow() as uow:
            assert await uow.supply_groups.get("123456") == group
            assert await uow.supply_groups.get("654321") is None
            await uow.supply_groups.update(rekeyed)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.supply_groups.get("123456") == rekeyed
            with pytest.raises(ValueError, match=r"(?i)exist|unique|duplicate"):
                await uow.supply_groups.add(group)


class TestDebts:
    async def test_for_meter_is_oldest_first_and_outstanding_only(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """for_meter() lists the meter's debts with something outstanding, by id; update works."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            other = await add_meter(uow, number="05050505050", pan="600727050505050505")
            debts = [
                Debt(meter_id=meter_id, description="arrears", outstanding=10_000,
                     mode=DebtMode.PERCENT, value=Decimal("0.25"), taxed=True, created_at=T0),
                Debt(meter_id=meter_id, description="paid", outstanding=0,
                     mode=DebtMode.FIXED, value=Decimal("500")),
                Debt(meter_id=other, description="other meter", outstanding=99,
                     mode=DebtMode.FIXED, value=Decimal("1")),
                Debt(meter_id=meter_id, description="loan", outstanding=2_500,
                     mode=DebtMode.FIXED, value=Decimal("250.50")),
            ]  # fmt: skip
            ids = [await uow.debts.add(debt) for debt in debts]
            await uow.commit()
        stored = [replace(debt, id=debt_id) for debt, debt_id in zip(debts, ids, strict=True)]
        async with backend.new_uow() as uow:
            assert await uow.debts.for_meter(meter_id) == [stored[0], stored[3]]
            stored[0].outstanding = 0
            await uow.debts.update(stored[0])
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.debts.for_meter(meter_id) == [stored[3]]


class TestVendors:
    async def test_round_trip_update_and_unique_code(self, backend: Backend) -> None:
        """A vendor (Decimal commission, SGC tuple) round-trips; update works; codes are unique."""
        vendor = Vendor(
            code="BANK1",
            name="First Bank",
            channel="api",
            balance=-5_000,
            credit_limit=100_000,
            commission=Decimal("0.0125"),
            allowed_sgcs=("600727", "123456"),
        )
        async with backend.new_uow() as uow:
            vendor_id = await uow.vendors.add(vendor)
            await uow.commit()
        stored = replace(vendor, id=vendor_id)
        async with backend.new_uow() as uow:
            assert await uow.vendors.get_by_code("BANK1") == stored
            assert await uow.vendors.get_by_code("BANK1", lock=True) == stored
            assert await uow.vendors.get_by_code("NOPE") is None
            stored.balance, stored.allowed_sgcs = 12_345, ()
            await uow.vendors.update(stored)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.vendors.get_by_code("BANK1") == stored
            with pytest.raises(ValueError, match=r"(?i)exist|unique|duplicate"):
                await uow.vendors.add(vendor)

    async def test_entries_in_order_per_vendor(self, backend: Backend) -> None:
        """Ledger entries come back in the order added, only the asked vendor's."""
        async with backend.new_uow() as uow:
            first = await uow.vendors.add(Vendor(code="A", name="A", channel="pos"))
            second = await uow.vendors.add(Vendor(code="B", name="B", channel="pos"))
            entries = [
                VendorEntry(vendor_id=first, at=T0, amount=10_000, balance_after=10_000,
                            kind="top_up"),
                VendorEntry(vendor_id=second, at=T0, amount=50, balance_after=50, kind="top_up"),
                VendorEntry(vendor_id=first, at=T0 + timedelta(seconds=1), amount=-5_000,
                            balance_after=5_000, kind="sale"),
            ]  # fmt: skip
            for entry in entries:
                await uow.vendors.add_entry(entry)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.vendors.entries(first) == [entries[0], entries[2]]
            assert await uow.vendors.entries(second) == [entries[1]]

    async def test_move_within_the_float(self, backend: Backend) -> None:
        """A covered movement changes the balance and records the balance it left.

        Balance 1,000 with credit limit 500 covers a sale of up to 1,500: a sale of 1,500
        (net 1,400 after commission) leaves 1,000 - 1,400 = -400; the entry says so whatever
        ``balance_after`` it was given. A refund (no ``covers``) of 1,400 brings back 1,000.
        """
        async with backend.new_uow() as uow:
            vendor_id = await uow.vendors.add(
                Vendor(code="V", name="V", channel="pos", balance=1_000, credit_limit=500)
            )
            sale = VendorEntry(vendor_id=vendor_id, at=T0, amount=-1_400, balance_after=0,
                               kind="sale")  # fmt: skip
            assert await uow.vendors.move(sale, covers=1_500) == -400
            refund = replace(sale, amount=1_400, kind="reversal")
            assert await uow.vendors.move(refund) == 1_000
            await uow.commit()
        async with backend.new_uow() as uow:
            vendor = await uow.vendors.get_by_code("V")
            assert vendor is not None
            assert vendor.balance == 1_000
            assert await uow.vendors.entries(vendor_id) == [
                replace(sale, balance_after=-400),
                replace(refund, balance_after=1_000),
            ]

    async def test_move_refused_changes_nothing(self, backend: Backend) -> None:
        """A movement the float does not cover returns None: no balance change, no entry.

        Balance 1,000 + credit limit 500 = 1,500 available, so ``covers=1,501`` is refused.
        """
        async with backend.new_uow() as uow:
            vendor_id = await uow.vendors.add(
                Vendor(code="V", name="V", channel="pos", balance=1_000, credit_limit=500)
            )
            sale = VendorEntry(vendor_id=vendor_id, at=T0, amount=-1_501, balance_after=0,
                               kind="sale")  # fmt: skip
            assert await uow.vendors.move(sale, covers=1_501) is None
            await uow.commit()
        async with backend.new_uow() as uow:
            vendor = await uow.vendors.get_by_code("V")
            assert vendor is not None
            assert vendor.balance == 1_000
            assert await uow.vendors.entries(vendor_id) == []


class TestMaintenance:
    async def test_round_trip_and_update(self, backend: Backend, add_meter: AddMeter) -> None:
        """A maintenance request (extra dict, enum status) round-trips and updates."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            opened = MaintenanceRequest(
                meter_id=meter_id,
                description="display blank",
                reported_by="+233201234567",
                opened_at=T0,
                extra={"photos": ["a.jpg"], "priority": 2},
            )
            request_id = await uow.maintenance.add(opened)
            await uow.commit()
        stored = replace(opened, id=request_id)
        async with backend.new_uow() as uow:
            assert await uow.maintenance.get(request_id) == stored
            assert await uow.maintenance.get(request_id + 1000) is None
            stored.status, stored.engineer = MaintenanceStatus.RESOLVED, "Kofi"
            stored.solution, stored.resolved_at = "replaced meter", T0 + timedelta(days=1)
            await uow.maintenance.update(stored)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.maintenance.get(request_id) == stored


class TestUpdates:
    async def test_update_of_an_unstored_row_raises_lookup_error(
        self, backend: Backend, add_meter: AddMeter, request: pytest.FixtureRequest
    ) -> None:
        """update() of an id (or SGC) that is not stored raises LookupError, never inserts."""
        async with backend.new_uow() as uow:
            meter = await uow.meters.get(await add_meter(uow))
            assert meter is not None
            missing: list[Callable[[], Any]] = [
                lambda: uow.meters.update(replace(meter, id=987_654)),
                lambda: uow.customers.update(Customer(id=987_654, account_number="X", name="X")),
                lambda: uow.debts.update(
                    Debt(id=987_654, description="x", outstanding=1, mode=DebtMode.FIXED,
                         value=Decimal(1))
                ),
                lambda: uow.vendors.update(Vendor(id=987_654, code="X", name="X", channel="x")),
                lambda: uow.vends.update(replace(make_vend(meter.id or 0), id=987_654)),
                lambda: uow.maintenance.update(
                    MaintenanceRequest(id=987_654, meter_id=meter.id or 0, description="x",
                                       opened_at=T0)
                ),
                lambda: uow.supply_groups.update(
                    SupplyGroup(sgc="000000", name="x", key_ref="x", dkga=2, key_revision=1,
                                base_date=1993)
                ),
                lambda: uow.requests.complete("nobody", "nothing", "{}", None),
            ]  # fmt: skip
            for update in missing:
                with pytest.raises(LookupError):
                    await update()
            assert await uow.meters.get(987_654) is None

    async def test_update_of_a_never_stored_entity_raises_value_error(
        self, backend: Backend
    ) -> None:
        """update() of an entity whose id is None (never added) raises ValueError."""
        async with backend.new_uow() as uow:
            with pytest.raises(ValueError, match="id"):
                await uow.customers.update(Customer(account_number="X", name="X"))


class TestVends:
    async def test_round_trip_with_tokens(self, backend: Backend, add_meter: AddMeter) -> None:
        """A vend comes back with its breakdown dict and its tokens in sequence order."""
        async with backend.new_uow() as uow:
            vend = make_vend(await add_meter(uow), tids=(100, 101))
            vend_id = await uow.vends.add(vend)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.vends.get(vend_id) == replace(vend, id=vend_id)
            assert await uow.vends.get(vend_id + 1000) is None

    async def test_for_meter_is_newest_first_with_limit(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """for_meter() lists the meter's vends newest first, at most ``limit``."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            other = await add_meter(uow, number="05050505050", pan="600727050505050505")
            ids = [
                await uow.vends.add(make_vend(meter_id, request_id=f"m{n}", tids=(n,)))
                for n in range(1, 5)
            ]
            await uow.vends.add(make_vend(other, request_id="other", tids=(1,)))
            vend_without_tokens = replace(make_vend(meter_id, request_id="eng"), tokens=())
            ids.append(await uow.vends.add(vend_without_tokens))
            await uow.commit()
        async with backend.new_uow() as uow:
            newest = await uow.vends.for_meter(meter_id, limit=3)
            everything = await uow.vends.for_meter(meter_id)
        assert [vend.id for vend in newest] == ids[::-1][:3]
        assert [vend.id for vend in everything] == ids[::-1]
        assert newest[0] == replace(vend_without_tokens, id=ids[-1])
        assert newest[1] == replace(make_vend(meter_id, request_id="m4", tids=(4,)), id=ids[3])

    async def test_update_changes_status_but_never_tokens(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """update() stores a reversal; the tokens stay as issued even if the object differs."""
        async with backend.new_uow() as uow:
            vend = make_vend(await add_meter(uow))
            vend.id = await uow.vends.add(vend)
            vend.status, vend.reversed_at = VendStatus.REVERSED, T0 + timedelta(minutes=2)
            vend.reversal_reason, vend.reversed_by = "client could not deliver", "6004708001234"
            await uow.vends.update(replace(vend, tokens=()))
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.vends.get(vend.id) == vend

    async def test_tid_repeated_for_the_same_meter_is_refused(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """A vend whose token repeats a TID already issued to the meter is refused."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            await uow.vends.add(make_vend(meter_id, request_id="a", tids=(100, 101)))
            await uow.commit()
        async with backend.new_uow() as uow:
            with pytest.raises(backend.duplicate_tid):
                await uow.vends.add(make_vend(meter_id, request_id="b", tids=(101,)))

    async def test_tid_repeated_within_one_vend_is_refused(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """Two tokens of one vend with the same TID (FBE + credit, the 2021 incident) fail."""
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            with pytest.raises(backend.duplicate_tid):
                await uow.vends.add(make_vend(meter_id, tids=(200, 200)))

    async def test_same_tid_on_another_meter_and_tidless_tokens_are_allowed(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """TIDs are unique per meter only; tokens without a TID (key change) never clash."""
        async with backend.new_uow() as uow:
            first = await add_meter(uow)
            second = await add_meter(uow, number="05050505050", pan="600727050505050505")
            await uow.vends.add(make_vend(first, request_id="a", tids=(300,)))
            await uow.vends.add(make_vend(second, request_id="b", tids=(300,)))
            await uow.vends.add(make_vend(first, request_id="c", tids=(301,)))
            await uow.commit()
        async with backend.new_uow() as uow:
            assert len(await uow.vends.for_meter(first)) == 2


class TestRequests:
    async def test_claim_then_complete_then_replay(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """claim() stores the key (no response yet); complete() stores response and vend."""
        async with backend.new_uow() as uow:
            vend_id = await uow.vends.add(make_vend(await add_meter(uow)))
            assert await uow.requests.claim("client", "msg-1", "sha256:abc") is True
            pending = await uow.requests.get("client", "msg-1")
            await uow.commit()
        assert pending is not None
        assert (pending.response, pending.vend_id, pending.fingerprint) == (
            None,
            None,
            "sha256:abc",
        )
        assert pending.created_at.utcoffset() is not None
        async with backend.new_uow() as uow:
            await uow.requests.complete("client", "msg-1", '{"token": "1234"}', vend_id)
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.requests.get("client", "msg-1") == StoredResponse(
                client_id="client",
                request_id="msg-1",
                fingerprint="sha256:abc",
                response='{"token": "1234"}',
                vend_id=vend_id,
                created_at=pending.created_at,
            )
            assert await uow.requests.get("client", "msg-2") is None
            assert await uow.requests.get("other", "msg-1") is None

    async def test_second_claim_is_false(self, backend: Backend) -> None:
        """A key claims once; again (same or next unit of work) it is False; keys are per client."""
        async with backend.new_uow() as uow:
            assert await uow.requests.claim("client", "msg-1", "f1") is True
            assert await uow.requests.claim("client", "msg-1", "f1") is False
            await uow.commit()
        async with backend.new_uow() as uow:
            assert await uow.requests.claim("client", "msg-1", "f2") is False
            assert await uow.requests.claim("other", "msg-1", "f1") is True
            stored = await uow.requests.get("client", "msg-1")
            assert stored is not None
            assert stored.fingerprint == "f1"

    async def test_rolled_back_claim_can_be_claimed_again(self, backend: Backend) -> None:
        """A claim that was never committed leaves no key behind."""
        async with backend.new_uow() as uow:
            assert await uow.requests.claim("client", "msg-1", "f") is True
        async with backend.new_uow() as uow:
            assert await uow.requests.claim("client", "msg-1", "f") is True

    async def test_concurrent_duplicate_claims_exactly_one_wins(self, backend: Backend) -> None:
        """Two units of work claiming one key at once: one True, the other False after it."""

        async def claim() -> bool:
            async with backend.new_uow() as uow:
                won = bool(await uow.requests.claim("client", "msg-1", "f"))
                await asyncio.sleep(0.05)
                await uow.commit()
                return won

        results = await asyncio.wait_for(asyncio.gather(claim(), claim()), timeout=20)
        assert sorted(results) == [False, True]


class TestTimes:
    async def test_aware_times_in_any_zone_come_back_as_the_same_instant(
        self, backend: Backend, add_meter: AddMeter
    ) -> None:
        """A time given at +02:00 comes back aware and equal (the same instant)."""
        at = datetime(2026, 3, 1, 10, 0, 0, 5, tzinfo=PLUS_TWO)
        async with backend.new_uow() as uow:
            meter_id = await add_meter(uow)
            await uow.meters.add_event(MeterEvent(meter_id=meter_id, at=at, kind="installed"))
            await uow.commit()
        async with backend.new_uow() as uow:
            (event,) = await uow.meters.events(meter_id)
        assert event.at == at
        assert event.at.utcoffset() is not None
