"""Contract of the concurrency rules in ``vending_core.service.ports`` (its docstring).

Run against every implementation: the in-memory twin and SQLite serialise whole units of work
(a process-wide lock; ``BEGIN IMMEDIATE``), PostgreSQL serialises on the row (``FOR UPDATE``;
the unique key under ``INSERT ... ON CONFLICT DO NOTHING``). Either way the second unit of work
waits, and then sees what the first committed. On PostgreSQL the tests also check that the
second one got as far as the statement that waits (its transaction had begun).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import pytest

from vending_core.domain.model import Debt, DebtMode, Vendor
from vending_core.domain.records import MaintenanceRequest, MaintenanceStatus
from vending_core.service import ports
from vending_core.service.admin_records import AdminLevel, AdminUser


class Backend(Protocol):
    """What the ``backend`` fixture gives (tests/contract/conftest.py)."""

    name: str
    new_uow: Callable[[], ports.UnitOfWork]


AddMeter = Callable[..., Awaitable[int]]
BLOCKED_FOR_S = 0.3  # how long the second unit of work must be seen waiting
TIMEOUT_S = 20


class Second:
    """A second unit of work run as a task; ``entered`` is set once its transaction began."""

    def __init__(self, backend: Backend, work: Callable[[ports.UnitOfWork], Awaitable[object]]):
        self.entered = asyncio.Event()
        self._backend = backend
        self._work = work
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> object:
        async with self._backend.new_uow() as uow:
            self.entered.set()
            result = await self._work(uow)
            await uow.commit()
            return result

    async def assert_waiting(self) -> None:
        """The task has not finished; on PostgreSQL it waits inside its transaction."""
        await asyncio.sleep(BLOCKED_FOR_S)
        assert not self.task.done()
        if self._backend.name == "postgres":
            assert self.entered.is_set()

    async def result(self) -> object:
        """What the second unit of work returned, once the first has finished."""
        return await asyncio.wait_for(self.task, TIMEOUT_S)


async def _claim(uow: ports.UnitOfWork) -> bool:
    return await uow.requests.claim("client", "msg-1", "fingerprint")


@pytest.mark.parametrize(("first_commits", "second_wins"), [(True, False), (False, True)])
async def test_duplicate_claim_waits_for_the_first_claimer(
    backend: Backend, first_commits: bool, second_wins: bool
) -> None:
    """A concurrent claim of one key waits; False once the first commits, True if it rolls back.

    It never fails with an error: the second transaction stays usable either way.
    """
    async with backend.new_uow() as first:
        assert await _claim(first) is True
        second = Second(backend, _claim)
        await second.assert_waiting()
        if first_commits:
            await first.commit()
    assert await second.result() is second_wins
    async with backend.new_uow() as uow:
        assert await uow.requests.get("client", "msg-1") is not None


async def test_meter_lock_blocks_a_second_locker_until_commit(
    backend: Backend, add_meter: AddMeter
) -> None:
    """While one unit of work holds a meter (lock=True), another locker waits, then sees its write.

    This is what keeps TID allocation one vend at a time per meter: no lost update.
    """
    async with backend.new_uow() as uow:
        meter_id = await add_meter(uow)
        await uow.commit()

    async def next_tid(uow: ports.UnitOfWork) -> int:
        meter = await uow.meters.get(meter_id, lock=True)
        assert meter is not None
        meter.last_tid = (meter.last_tid or 0) + 1
        await uow.meters.update(meter)
        return meter.last_tid

    async with backend.new_uow() as first:
        first_tid = await next_tid(first)
        second = Second(backend, next_tid)
        await second.assert_waiting()
        await first.commit()
    assert await second.result() == first_tid + 1


async def test_meter_detail_lock_waits_and_then_sees_the_first_sale(
    backend: Backend, add_meter: AddMeter
) -> None:
    """get_detail(lock=True) waits like get(lock=True), then reads meter and debts as committed.

    The debts matter on PostgreSQL: a statement that waited for the row lock sees other
    tables as they were when it began, so they must be read after the lock (no debt is
    recovered twice, no TID reused).
    """
    async with backend.new_uow() as uow:
        meter_id = await add_meter(uow)
        await uow.debts.add(
            Debt(
                meter_id=meter_id,
                description="arrears",
                outstanding=1000,
                mode=DebtMode.FIXED,
                value=Decimal(400),
            )
        )
        await uow.commit()

    async def sell(uow: ports.UnitOfWork) -> tuple[int, int]:
        detail = await uow.meters.get_detail("04040404040", lock=True)
        assert detail is not None
        (debt,) = detail.debts
        debt.outstanding -= 400
        await uow.debts.update(debt)
        detail.meter.last_tid = (detail.meter.last_tid or 0) + 1
        await uow.meters.update(detail.meter)
        return detail.meter.last_tid, debt.outstanding

    async with backend.new_uow() as first:
        first_tid, first_left = await sell(first)
        second = Second(backend, sell)
        await second.assert_waiting()
        await first.commit()
    assert first_left == 600
    assert await second.result() == (first_tid + 1, 200)


async def test_vendor_lock_blocks_a_second_locker_until_commit(backend: Backend) -> None:
    """get_by_code(lock=True) serialises sales against one vendor's float: no lost update."""
    async with backend.new_uow() as uow:
        await uow.vendors.add(Vendor(code="BANK1", name="Bank", channel="api", balance=1000))
        await uow.commit()

    async def sell(uow: ports.UnitOfWork) -> int:
        vendor = await uow.vendors.get_by_code("BANK1", lock=True)
        assert vendor is not None
        vendor.balance -= 100
        await uow.vendors.update(vendor)
        return vendor.balance

    async with backend.new_uow() as first:
        assert await sell(first) == 900
        second = Second(backend, sell)
        await second.assert_waiting()
        await first.commit()
    assert await second.result() == 800


async def test_admin_user_lock_blocks_a_second_locker_until_commit(backend: Backend) -> None:
    """get_user(lock=True) serialises read-change-write of a user: no failed login is lost.

    Each unit of work adds one to ``failed_logins`` (stored 0): the first writes 1, the
    second waits for its commit, reads 1 and writes 2.
    """
    created = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    async with backend.new_uow() as uow:
        user = AdminUser(
            username="amina", level=AdminLevel.OPERATOR, password_hash="x", created_at=created
        )
        user_id = await uow.admin.add_user(user)
        await uow.commit()

    async def fail_once(uow: ports.UnitOfWork) -> int:
        user = await uow.admin.get_user(user_id, lock=True)
        assert user is not None
        user.failed_logins += 1
        await uow.admin.update_user(user)
        return user.failed_logins

    async with backend.new_uow() as first:
        assert await fail_once(first) == 1
        second = Second(backend, fail_once)
        await second.assert_waiting()
        await first.commit()
    assert await second.result() == 2


async def test_maintenance_lock_blocks_a_second_locker_until_commit(
    backend: Backend, add_meter: AddMeter
) -> None:
    """maintenance.get(lock=True) waits for a concurrent move, then reads the status it wrote.

    The first resolves the request (stored assigned); the second, once let through, reads
    ``resolved``, not the ``assigned`` it would have read without the lock.
    """
    async with backend.new_uow() as uow:
        opened = MaintenanceRequest(
            meter_id=await add_meter(uow),
            description="display blank",
            opened_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
            status=MaintenanceStatus.ASSIGNED,
            engineer="Juma",
        )
        request_id = await uow.maintenance.add(opened)
        await uow.commit()

    async def status_then_resolve(uow: ports.UnitOfWork) -> MaintenanceStatus:
        request = await uow.maintenance.get(request_id, lock=True)
        assert request is not None
        seen = request.status
        request.status = MaintenanceStatus.RESOLVED
        await uow.maintenance.update(request)
        return seen

    async with backend.new_uow() as first:
        assert await status_then_resolve(first) is MaintenanceStatus.ASSIGNED
        second = Second(backend, status_then_resolve)
        await second.assert_waiting()
        await first.commit()
    assert await second.result() is MaintenanceStatus.RESOLVED
