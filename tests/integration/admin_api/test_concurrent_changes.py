"""Concurrent read-change-write of one row through ``/admin/v1``: no update is lost.

A failed login, a user PATCH and a maintenance move each read a row, change it in Python and
write it back in one unit of work. They lock the row when they read it (``FOR UPDATE`` on
PostgreSQL; SQLite runs one writer at a time), so concurrent requests take turns and each
sees what the one before it wrote. Without the lock, PostgreSQL's READ COMMITTED lets two of
them read the same old row and the last writer wins.

To make that window wide enough to hit every time, the fixture ``widened`` makes every read
of an admin user or a maintenance request sleep :data:`WIDEN_S` before it returns (inside
its unit of work, after the lock is taken): the code paths are unchanged, only slower.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.admin_api.conftest import PASSWORD, START, Admin
from tests.integration.admin_api.masterdata_support import BACKENDS, admin_on
from vending_core.adapters.admin_sql import SqlAdminRepository
from vending_core.adapters.repositories import SqlMaintenanceRepository
from vending_core.service import admin_accounts
from vending_core.service.admin_records import AdminLevel, AuditEntry, AuditFilter
from vending_core.service.demo_data import DEMO_METERS

WIDEN_S = 0.05
TIMES = 12
BARRIER_TIMEOUT_S = 30
PROBLEMS = "https://vendgate.dev/problems/"


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Admin]:
    """The admin API with the demo data, on SQLite and on PostgreSQL."""
    async with admin_on(request) as admin:
        yield admin


def _slowed(read: Callable[..., Any]) -> Callable[..., Any]:
    async def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = await read(self, *args, **kwargs)
        await asyncio.sleep(WIDEN_S)
        return found

    return slow


@pytest.fixture
def widened(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads of a user by id and of a maintenance request sleep WIDEN_S after reading."""
    monkeypatch.setattr(SqlAdminRepository, "get_user", _slowed(SqlAdminRepository.get_user))
    monkeypatch.setattr(SqlMaintenanceRepository, "get", _slowed(SqlMaintenanceRepository.get))


async def _audit(api: Admin, **query: Any) -> list[AuditEntry]:
    async with api.core.read_uow() as uow:
        return await uow.admin.list_audit(AuditFilter(**query))


def _in_order(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    return first is not None and first == second


def _chained(a: AuditEntry, b: AuditEntry) -> bool:
    """Whether one entry starts from what the other left (a possible history)."""
    return _in_order(a.after, b.before) or _in_order(b.after, a.before)


@pytest.mark.usefixtures("widened")
async def test_twelve_parallel_wrong_passwords_are_all_counted(
    api: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 wrong passwords at once count as 12 failures in a row: locked, count 2, audited.

    All 12 pass the lockout check before any failure is counted (a barrier in the password
    check, as an attacker's parallel guesses would). Counted one at a time by the rules
    (MAX_FAILURES = 5; the fifth locks for 15 minutes and resets the count to 0), failures
    1-4 give counts 1-4 and ``login.failed``; failure 5 gives count 0 and ``login.locked``;
    6-9 give 1-4 and, the account being locked, ``login.locked``; 10 gives 0 (locked again,
    until the same 09:15, the clock standing still); 11 and 12 give 1 and 2. So: 12 answers
    401, the stored count is 2, locked until 09:00 + 15 min = 09:15, and the audit has 4
    ``login.failed`` and 12 - 4 = 8 ``login.locked``. Then the right password is 423.
    With a lost update the count would restart from an old value and the lockout come late.
    """
    user = await api.user("amina", AdminLevel.OPERATOR)
    barrier = threading.Barrier(TIMES, timeout=BARRIER_TIMEOUT_S)
    check = admin_accounts.verify_password

    def together(password: str, stored: str) -> bool:
        barrier.wait()
        return check(password, stored)

    monkeypatch.setattr(admin_accounts, "verify_password", together)
    pool = ThreadPoolExecutor(max_workers=TIMES)  # the 12 checks wait in the barrier at once
    asyncio.get_running_loop().set_default_executor(pool)
    wrong = {"username": "amina", "password": "not the password"}
    try:
        answers = await asyncio.gather(
            *(api.call("POST", "/login", json=wrong) for _ in range(TIMES))
        )
    finally:
        monkeypatch.setattr(admin_accounts, "verify_password", check)
    assert Counter(status for status, _ in answers) == Counter({401: TIMES})
    async with api.core.read_uow() as uow:
        stored = await uow.admin.get_user_by_name("amina")
    assert stored is not None
    assert (stored.failed_logins, stored.locked_until) == (2, START + timedelta(minutes=15))
    failed = await _audit(api, user_id=user.id, action="login.failed")
    locked = await _audit(api, user_id=user.id, action="login.locked")
    assert (len(failed), len(locked)) == (4, 8)
    right = {"username": "amina", "password": PASSWORD}
    status, body = await api.call("POST", "/login", json=right)
    assert (status, body["type"]) == (423, PROBLEMS + "account-locked")


@pytest.mark.usefixtures("widened")
async def test_two_parallel_patches_of_different_fields_both_stay(api: Admin) -> None:
    """An area PATCH and a scopes PATCH at once: the row ends with both changes.

    The user starts with no area and no scopes; one PATCH sets area DEMO-POS, the other
    scopes ["pos.*"]. Both are 200; the stored user has area DEMO-POS and scopes ("pos.*",).
    The two ``user.update`` entries form one history: the later one's ``before`` is the
    earlier one's ``after`` (not both starting from the original user).
    """
    user = await api.user("moved", AdminLevel.OPERATOR)
    root = await api.token(AdminLevel.ADMINISTRATOR)
    path = f"/users/{user.id}"
    answers = await asyncio.gather(
        api.call("PATCH", path, root, json={"area": "DEMO-POS"}),
        api.call("PATCH", path, root, json={"scopes": ["pos.*"]}),
    )
    assert [status for status, _ in answers] == [200, 200], answers
    async with api.core.read_uow() as uow:
        stored = await uow.admin.get_user_by_name("moved")
    assert stored is not None
    assert (stored.area, stored.scopes) == ("DEMO-POS", ("pos.*",))
    first, second = await _audit(api, action="user.update", entity="user")
    assert _chained(first, second), (first, second)


async def _assigned_request(api: Admin) -> int:
    operator = await api.token(AdminLevel.OPERATOR)
    body = {"meter_number": DEMO_METERS[0].number, "description": "display blank"}
    status, item = await api.call("POST", "/maintenance", operator, json=body)
    assert status == 201, item
    item_id: int = item["id"]
    status, _ = await _move(api, item_id, "assign", engineer="Juma")
    assert status == 200
    return item_id


async def _move(api: Admin, item_id: int, action: str, **body: str) -> tuple[int, Any]:
    manager = await api.token(AdminLevel.POS_MANAGER)
    return await api.call("POST", f"/maintenance/{item_id}/{action}", manager, json=body)


@pytest.mark.usefixtures("widened")
async def test_two_parallel_resolves_one_wins_the_other_is_409(api: Admin) -> None:
    """Two resolves of one assigned request at once: one 200, one 409, one resolve audited.

    The table allows resolve only from ``assigned``; the second resolve must see the first
    one's ``resolved`` and be refused (maintenance-transition), so the stored solution is the
    winner's and the audit has exactly one ``maintenance.resolve``.
    """
    item_id = await _assigned_request(api)
    solutions = ("replaced the keypad", "reset the meter")
    answers = await asyncio.gather(
        *(_move(api, item_id, "resolve", solution=text) for text in solutions)
    )
    assert sorted(status for status, _ in answers) == [200, 409], answers
    (won,) = (body for status, body in answers if status == 200)
    (lost,) = (body for status, body in answers if status == 409)
    assert lost["type"] == PROBLEMS + "maintenance-transition"
    async with api.core.read_uow() as uow:
        stored = await uow.maintenance.get(item_id)
    assert stored is not None
    assert (stored.status.value, stored.solution) == ("resolved", won["solution"])
    assert len(await _audit(api, action="maintenance.resolve")) == 1


@pytest.mark.usefixtures("widened")
async def test_a_resolve_racing_a_reassign_leaves_a_possible_history(api: Admin) -> None:
    """A resolve and a reassign (Juma to Wanjiru) at once: never a history that cannot be.

    Either the reassign goes first (both 200: resolved with engineer Wanjiru, and the
    resolve's ``before`` is the reassign's ``after``), or the resolve goes first (the
    reassign is 409 and the request stays resolved with Juma). Never both 200 with each
    starting from ``assigned to Juma``.
    """
    item_id = await _assigned_request(api)
    (resolve_status, _), (assign_status, _) = await asyncio.gather(
        _move(api, item_id, "resolve", solution="reset the meter"),
        _move(api, item_id, "assign", engineer="Wanjiru"),
    )
    assert resolve_status == 200
    async with api.core.read_uow() as uow:
        stored = await uow.maintenance.get(item_id)
    assert stored is not None
    if assign_status == 200:
        assert (stored.status.value, stored.engineer) == ("resolved", "Wanjiru")
        (_, reassign) = await _audit(api, action="maintenance.assign")
        (resolve,) = await _audit(api, action="maintenance.resolve")
        assert _chained(reassign, resolve), (reassign, resolve)
    else:
        assert assign_status == 409
        assert (stored.status.value, stored.engineer) == ("resolved", "Juma")
