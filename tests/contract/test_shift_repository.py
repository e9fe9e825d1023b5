"""One contract for the shift repository (and the maintenance listing): memory, SQLite, PostgreSQL.

Shifts round-trip; a vending point has at most one open shift (the second open answers None,
also when two units of work race); a shift closes once; the listing filters and pages newest
first; the report groups a vending point's vends in ``[start, end)`` by operator. Maintenance
requests list oldest first, filtered by status, meter and engineer.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.contract.conftest import AddMeter, Backend
from vending_core.domain.records import (
    IssuedToken,
    MaintenanceRequest,
    MaintenanceStatus,
    TokenKind,
    Vend,
    VendKind,
    VendStatus,
)
from vending_core.service.shift_records import Shift, ShiftLine, ShiftStatus

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)


def _shift(vendor_code: str = "V1", by: str = "amina", at: datetime = T0) -> Shift:
    return Shift(vendor_code=vendor_code, opened_by=by, opened_at=at)


async def test_one_open_shift_per_vending_point_and_a_shift_closes_once(
    backend: Backend,
) -> None:
    """Open V1 (id), V1 again (None), V2 (id); close V1 once; then V1 opens a new shift."""
    async with backend.new_uow() as uow:
        first = await uow.shifts.open(_shift())
        assert first is not None
        assert await uow.shifts.open(_shift(by="kwame")) is None
        other = await uow.shifts.open(_shift("V2"))
        assert other is not None
        await uow.commit()
    closed_at = T0 + timedelta(hours=8)
    async with backend.new_uow() as uow:
        assert await uow.shifts.get(first) == replace(_shift(), id=first)
        assert await uow.shifts.close(first, closed_by="kwame", closed_at=closed_at)
        assert not await uow.shifts.close(first, closed_by="kwame", closed_at=closed_at)
        assert not await uow.shifts.close(999_999, closed_by="kwame", closed_at=closed_at)
        await uow.commit()
    async with backend.new_uow() as uow:
        stored = await uow.shifts.get(first)
        assert stored == replace(
            _shift(),
            id=first,
            status=ShiftStatus.CLOSED,
            closed_by="kwame",
            closed_at=closed_at,
        )
        again = await uow.shifts.open(_shift(at=closed_at))
        assert again is not None
        assert again not in {first, other}
        assert await uow.shifts.get(999_999) is None


async def test_two_racing_opens_store_one_shift(backend: Backend) -> None:
    """Two units of work open V1 at once: exactly one gets an id; no error, one row stored."""

    async def open_one(by: str) -> int | None:
        async with backend.new_uow() as uow:
            shift_id = await uow.shifts.open(_shift(by=by))
            await asyncio.sleep(0.05)  # hold the transaction open a little
            await uow.commit()
            return shift_id

    results = await asyncio.wait_for(asyncio.gather(open_one("a"), open_one("b")), 20)
    assert sorted(result is None for result in results) == [False, True]
    async with backend.new_uow() as uow:
        found = await uow.shifts.find(vendor_code="V1", status=None, limit=10, offset=0)
    assert len(found) == 1


async def test_find_filters_and_pages_newest_first(backend: Backend) -> None:
    """Shifts 1 (V1, closed), 2 (V2, open), 3 (V1, open): filters and pages by id descending."""
    async with backend.new_uow() as uow:
        one = await uow.shifts.open(_shift("V1"))
        assert one is not None
        assert await uow.shifts.close(one, closed_by="amina", closed_at=T0 + timedelta(hours=1))
        two = await uow.shifts.open(_shift("V2"))
        three = await uow.shifts.open(_shift("V1", at=T0 + timedelta(hours=2)))
        await uow.commit()
    async with backend.new_uow() as uow:

        async def ids(**query: Any) -> list[int | None]:
            found = await uow.shifts.find(
                **{"vendor_code": None, "status": None, "limit": 10, "offset": 0, **query}
            )
            return [shift.id for shift in found]

        assert await ids() == [three, two, one]
        assert await ids(vendor_code="V1") == [three, one]
        assert await ids(status=ShiftStatus.OPEN) == [three, two]
        assert await ids(vendor_code="V1", status=ShiftStatus.CLOSED) == [one]
        assert await ids(limit=1, offset=1) == [two]
        assert await ids(vendor_code="NONE") == []


def _vend(meter_id: int, n: int, at: datetime, **changes: Any) -> Vend:
    """A credit vend of 1 000 at V1 by amina with one credit token (TID ``n``)."""
    token = IssuedToken(sequence=1, kind=TokenKind.CREDIT, token=f"{n:020d}", tid=n, tenths=434)
    vend = Vend(
        client_id="c",
        request_id=f"r{n}",
        kind=VendKind.CREDIT,
        meter_id=meter_id,
        meter_number="04040404040",
        channel="pos",
        vendor_code="V1",
        operator="amina",
        gross=1_000,
        created_at=at,
        tokens=(token,),
    )
    return replace(vend, **changes)


def _free(meter_id: int, n: int, at: datetime, tenths: int, operator: str) -> Vend:
    token = IssuedToken(
        sequence=1, kind=TokenKind.FREE_BASIC, token=f"{n:020d}", tid=n, tenths=tenths
    )
    return _vend(
        meter_id, n, at, kind=VendKind.FREE_BASIC, gross=0, operator=operator, tokens=(token,)
    )


async def test_report_groups_the_vending_points_vends_by_operator(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Hand sums over ``[T0, T0 + 8 h)`` at V1.

    amina: sales 1 000 (at T0, the start counts) + 2 500 (reversed) = 2 sales, gross 3 500,
    1 reversal of 2 500; one free issue of 500 tenths.
    kwame: sale 4 000; free issues 500 + 350 = 2 issues, 850 tenths.
    "" (no operator): sale 700.
    Left out: a sale at T0 + 8 h (the end is exclusive), one a second before T0, one at V2,
    and an engineering vend (neither a sale nor a free issue).
    """
    end = T0 + timedelta(hours=8)
    async with backend.new_uow() as uow:
        m = await add_meter(uow)
        vends = [
            _vend(m, 1, T0),
            _vend(m, 2, T0 + timedelta(hours=1), gross=2_500, status=VendStatus.REVERSED),
            _free(m, 3, T0 + timedelta(hours=2), 500, "amina"),
            _vend(m, 4, T0 + timedelta(hours=3), gross=4_000, operator="kwame"),
            _free(m, 5, T0 + timedelta(hours=4), 500, "kwame"),
            _free(m, 6, T0 + timedelta(hours=5), 350, "kwame"),
            _vend(m, 7, T0 + timedelta(hours=6), gross=700, operator=None),
            _vend(m, 8, end, gross=9_000),
            _vend(m, 9, T0 - timedelta(seconds=1), gross=9_000),
            _vend(m, 10, T0 + timedelta(hours=1), gross=9_000, vendor_code="V2"),
            _vend(m, 11, T0 + timedelta(hours=1), gross=0, kind=VendKind.ENGINEERING),
        ]
        for vend in vends:
            await uow.vends.add(vend)
        await uow.commit()
    async with backend.new_uow() as uow:
        lines = await uow.shifts.report("V1", T0, end)
        assert await uow.shifts.report("V3", T0, end) == []
    assert lines == [
        ShiftLine(
            operator="",
            sales=1,
            gross=700,
            free_issues=0,
            free_tenths=0,
            reversals=0,
            reversed_gross=0,
        ),
        ShiftLine(
            operator="amina",
            sales=2,
            gross=3_500,
            free_issues=1,
            free_tenths=500,
            reversals=1,
            reversed_gross=2_500,
        ),
        ShiftLine(
            operator="kwame",
            sales=1,
            gross=4_000,
            free_issues=2,
            free_tenths=850,
            reversals=0,
            reversed_gross=0,
        ),
    ]


def _request(meter_id: int, n: int, **changes: Any) -> MaintenanceRequest:
    request = MaintenanceRequest(
        meter_id=meter_id,
        description=f"fault {n}",
        reported_by="amina",
        opened_at=T0 + timedelta(minutes=n),
    )
    return replace(request, **changes)


async def test_maintenance_find_filters_and_pages_oldest_first(
    backend: Backend, add_meter: AddMeter
) -> None:
    """Maintenance requests filter by status, meter and engineer, alone and together, and page.

    Seeded: 1 (meter A, open), 2 (B, assigned to Juma), 3 (A, resolved by Juma), 4 (A,
    assigned to Wanjiru); the resolved one round-trips with its solution and time.
    """
    async with backend.new_uow() as uow:
        a = await add_meter(uow)
        b = await add_meter(uow, number="05050505050", pan="600727050505050505")
        assigned, resolved = MaintenanceStatus.ASSIGNED, MaintenanceStatus.RESOLVED
        ids = [
            await uow.maintenance.add(_request(a, 1)),
            await uow.maintenance.add(_request(b, 2, status=assigned, engineer="Juma")),
            await uow.maintenance.add(
                _request(
                    a,
                    3,
                    status=resolved,
                    engineer="Juma",
                    solution="new seal",
                    resolved_at=T0 + timedelta(hours=1),
                )
            ),
            await uow.maintenance.add(_request(a, 4, status=assigned, engineer="Wanjiru")),
        ]
        await uow.commit()
    async with backend.new_uow() as uow:

        async def found(**query: Any) -> list[int | None]:
            wanted = {"status": None, "meter_id": None, "engineer": None, "limit": 10, "offset": 0}
            return [r.id for r in await uow.maintenance.find(**{**wanted, **query})]

        assert await found() == ids
        assert await found(status=assigned) == [ids[1], ids[3]]
        assert await found(meter_id=a) == [ids[0], ids[2], ids[3]]
        assert await found(engineer="Juma") == [ids[1], ids[2]]
        assert await found(meter_id=a, status=assigned, engineer="Wanjiru") == [ids[3]]
        assert await found(limit=2, offset=1) == [ids[1], ids[2]]
        (third,) = await uow.maintenance.find(
            status=resolved, meter_id=None, engineer=None, limit=10, offset=0
        )
        assert third == replace(
            _request(
                a,
                3,
                status=resolved,
                engineer="Juma",
                solution="new seal",
                resolved_at=T0 + timedelta(hours=1),
            ),
            id=ids[2],
        )
