"""One contract for the back-office repository: memory, SQLite, PostgreSQL.

Users round-trip (level, lockout time, allow-list, scopes) and usernames are unique; sessions are
found by hash and deleted; the audit log filters and pages in insertion order; the sales
report groups credit vends by UTC day, channel and vendor in ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.contract.conftest import AddMeter, Backend
from vending_core.adapters.errors import ConstraintViolation
from vending_core.adapters.memory_admin import DuplicateUsernameError
from vending_core.domain.model import Customer, MeterStatus
from vending_core.domain.records import Vend, VendKind, VendStatus
from vending_core.service.admin_records import (
    AdminLevel,
    AdminSession,
    AdminUser,
    AuditEntry,
    AuditFilter,
    SalesLine,
    UserStatus,
)

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)


def _user(name: str = "amina", **changes: Any) -> AdminUser:
    user = AdminUser(
        username=name,
        level=AdminLevel.POS_MANAGER,
        password_hash="scrypt$16384$8$1$00$00",
        created_at=T0,
        area="DEMO-POS",
        allowed_ips=("10.0.0.0/8", "192.0.2.7"),
        locked_until=T0 + timedelta(minutes=15),
        failed_logins=3,
        scopes=("reports.*", "pos.vend"),
    )
    return replace(user, **changes)


async def test_users_round_trip_and_usernames_are_unique(backend: Backend) -> None:
    """Every field comes back equal; an update is read back; a second 'amina' is refused."""
    async with backend.new_uow() as uow:
        user_id = await uow.admin.add_user(_user())
        await uow.commit()
    async with backend.new_uow() as uow:
        stored = await uow.admin.get_user(user_id)
        assert stored == replace(_user(), id=user_id)
        assert await uow.admin.get_user_by_name("amina") == stored
        assert await uow.admin.get_user_by_name("nobody") is None
        assert stored is not None
        stored.status, stored.locked_until = UserStatus.DISABLED, None
        await uow.admin.update_user(stored)
        await uow.commit()
    async with backend.new_uow() as uow:
        again = await uow.admin.get_user(user_id)
        assert again is not None
        assert (again.status, again.locked_until) == (UserStatus.DISABLED, None)
        assert [u.username for u in await uow.admin.list_users(limit=10, offset=0)] == ["amina"]
        with pytest.raises((ConstraintViolation, DuplicateUsernameError)):
            await uow.admin.add_user(_user())


async def test_scopes_round_trip_in_order_and_default_to_none(backend: Backend) -> None:
    """Scopes come back as the same tuple in the same order; an update replaces them.

    A user stored without scopes reads back ``()`` (every route of the level), and
    setting ``()`` on a scoped user clears them.
    """
    async with backend.new_uow() as uow:
        scoped = await uow.admin.add_user(_user("scoped"))
        plain = await uow.admin.add_user(_user("plain", scopes=()))
        await uow.commit()
    async with backend.new_uow() as uow:
        first = await uow.admin.get_user(scoped)
        assert first is not None
        assert first.scopes == ("reports.*", "pos.vend")
        assert (await uow.admin.get_user(plain)) == replace(_user("plain", scopes=()), id=plain)
        first.scopes = ("customers.*", "*.list", "pos.quote")
        await uow.admin.update_user(first)
        await uow.commit()
    async with backend.new_uow() as uow:
        again = await uow.admin.get_user_by_name("scoped")
        assert again is not None
        assert again.scopes == ("customers.*", "*.list", "pos.quote")
        again.scopes = ()
        await uow.admin.update_user(again)
        await uow.commit()
    async with backend.new_uow() as uow:
        listed = await uow.admin.list_users(limit=10, offset=0)
    assert [(u.username, u.scopes) for u in listed] == [("scoped", ()), ("plain", ())]


async def test_sessions_by_hash_and_delete(backend: Backend) -> None:
    """A session is found by its hash with its expiry; after delete it is gone."""
    async with backend.new_uow() as uow:
        user_id = await uow.admin.add_user(_user())
        session = AdminSession(
            token_hash="ab" * 32,
            user_id=user_id,
            kind="session",
            created_at=T0,
            expires_at=T0 + timedelta(hours=8),
        )
        await uow.admin.add_session(session)
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.admin.get_session("ab" * 32) == session
        assert await uow.admin.delete_session("ab" * 32)
        assert not await uow.admin.delete_session("ab" * 32)
        assert await uow.admin.get_session("ab" * 32) is None


async def test_audit_filters_and_pages(backend: Backend) -> None:
    """Filters by user, action, entity and [start, end); pages keep insertion order."""
    entries = [
        AuditEntry(
            at=T0 + timedelta(hours=h),
            user_id=u,
            remote="192.0.2.7",
            action=a,
            entity=e,
            entity_id=str(h),
            before={"status": "x"} if h else None,
            after={"n": h},
        )
        for h, (u, a, e) in enumerate(
            [
                (1, "login", "user"),
                (2, "pos.vend", "vend"),
                (1, "pos.vend", "vend"),
                (2, "pos.reverse", "vend"),
            ]
        )
    ]
    async with backend.new_uow() as uow:
        for entry in entries:
            await uow.admin.add_audit(entry)
        await uow.commit()

    async def ids(**query: Any) -> list[str]:
        async with backend.new_uow() as uow:
            found = await uow.admin.list_audit(AuditFilter(**query))
        return [e.entity_id for e in found]

    assert await ids() == ["0", "1", "2", "3"]
    assert await ids(user_id=1) == ["0", "2"]
    assert await ids(action="pos.vend") == ["1", "2"]
    assert await ids(entity="vend", user_id=2) == ["1", "3"]
    assert await ids(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3)) == ["1", "2"]
    assert await ids(limit=2, offset=1) == ["1", "2"]
    async with backend.new_uow() as uow:
        (first, *_) = await uow.admin.list_audit(AuditFilter(limit=1))
    assert replace(first, id=None) == entries[0]


def _vend(meter_id: int, at: datetime, gross: int, **changes: Any) -> Vend:
    vend = Vend(
        client_id="c",
        request_id=f"r{at.isoformat()}{gross}",
        kind=VendKind.CREDIT,
        meter_id=meter_id,
        meter_number="01234567897",
        channel="pos",
        vendor_code="V1",
        gross=gross,
        commission=gross // 100,
        created_at=at,
    )
    return replace(vend, **changes)


async def test_sales_report_groups_in_the_period(backend: Backend, add_meter: AddMeter) -> None:
    """Hand sums: 25 Nov 1 000 + 2 000 (V1, pos), 26 Nov 500 via ussd (no vendor) reversed.

    23:59:59 on 25 Nov is still 25 Nov (UTC); the vend at ``end`` and the engineering
    vend are left out. Commission is 1 % in the seeded vends: 10 + 20, and 5.
    """
    day1, day2 = datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    async with backend.new_uow() as uow:
        meter_id = await add_meter(uow)
        for vend in (
            _vend(meter_id, day1 + timedelta(hours=8), 1_000),
            _vend(meter_id, day1 + timedelta(hours=23, minutes=59, seconds=59), 2_000),
            _vend(
                meter_id,
                day2 + timedelta(hours=1),
                500,
                channel="ussd",
                vendor_code=None,
                status=VendStatus.REVERSED,
            ),
            _vend(meter_id, day2 + timedelta(hours=2), 0, kind=VendKind.ENGINEERING),
            _vend(meter_id, day2 + timedelta(days=1), 9_999),
        ):
            await uow.vends.add(vend)
        await uow.commit()
    end = day2 + timedelta(days=1)
    async with backend.new_uow() as uow:
        by_day = await uow.admin.sales_report(day1, end, "day")
        by_vendor = await uow.admin.sales_report(day1, end, "vendor")
        by_channel = await uow.admin.sales_report(day1, end, "channel")
    assert by_day == [
        SalesLine(
            key="2026-11-25", sales=2, gross=3_000, commission=30, reversals=0, reversed_gross=0
        ),
        SalesLine(
            key="2026-11-26", sales=1, gross=500, commission=5, reversals=1, reversed_gross=500
        ),
    ]
    assert [(line.key, line.gross) for line in by_vendor] == [("", 500), ("V1", 3_000)]
    assert [(line.key, line.sales) for line in by_channel] == [("pos", 2), ("ussd", 1)]


async def test_customers_list_filters_by_name_and_account_and_pages(backend: Backend) -> None:
    """Name contains (any case, % and _ literal), account prefix; pages by id."""
    names = [("ACC-1", "Amina Njeri"), ("ACC-2", "Kwame Mensah"), ("B-3", "amina 100%_x")]
    async with backend.new_uow() as uow:
        for account, name in names:
            await uow.customers.add(Customer(account_number=account, name=name, phones=("+1",)))
        await uow.commit()

    async def accounts(**query: Any) -> list[str]:
        page = {"name": None, "account": None, "limit": 10, "offset": 0, **query}
        async with backend.new_uow() as uow:
            return [c.account_number for c in await uow.admin.list_customers(**page)]

    assert await accounts() == ["ACC-1", "ACC-2", "B-3"]
    assert await accounts(name="AMINA") == ["ACC-1", "B-3"]
    assert await accounts(name="100%_") == ["B-3"]
    assert await accounts(name="%") == ["B-3"]
    assert await accounts(account="ACC") == ["ACC-1", "ACC-2"]
    assert await accounts(name="amina", account="ACC") == ["ACC-1"]
    assert await accounts(limit=1, offset=1) == ["ACC-2"]
    async with backend.new_uow() as uow:
        (first,) = await uow.admin.list_customers(name="njeri", account=None, limit=5, offset=0)
    assert first.phones == ("+1",)


async def test_meters_list_filters_and_pages(backend: Backend, add_meter: AddMeter) -> None:
    """Filters by SGC, status and customer; pages by id."""
    async with backend.new_uow() as uow:
        owner = await uow.customers.add(Customer(account_number="A", name="Owner"))
        first = await add_meter(uow, number="01234567897", pan="600727012345678976")
        second = await add_meter(uow, number="01234567889", pan="600727012345678885")
        meter = await uow.meters.get(first)
        assert meter is not None
        meter.customer_id = owner  # make_meter's meters are blocked; the second is unblocked
        await uow.meters.update(meter)
        other = await uow.meters.get(second)
        assert other is not None
        other.status = MeterStatus.ACTIVE
        await uow.meters.update(other)
        await uow.commit()

    async def ids(**query: Any) -> list[int | None]:
        page = {"sgc": None, "status": None, "customer_id": None, "limit": 10, "offset": 0}
        async with backend.new_uow() as uow:
            return [m.id for m in await uow.admin.list_meters(**{**page, **query})]

    assert await ids() == [first, second]
    assert await ids(status="blocked") == [first]
    assert await ids(status="active") == [second]
    assert await ids(customer_id=owner) == [first]
    assert await ids(sgc="999999") == []
    assert await ids(limit=1, offset=1) == [second]
