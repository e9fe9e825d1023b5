"""The voucher repository's batch methods, one contract for memory, SQLite and PostgreSQL.

``add_many`` stores a batch in one statement (all or nothing), ``batch``/``batches`` sum a
batch up by status in the database (``GROUP BY``), ``in_batch`` pages its cards by serial
and ``void_batch`` voids only the cards still active, racing redemptions safely.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.contract.conftest import Backend
from vending_core.adapters.errors import ConstraintViolation
from vending_core.adapters.memory_payments import DuplicateRowError
from vending_core.domain.payments import Voucher, VoucherStatus
from vending_core.domain.vouchers import VoucherBatch

T0 = datetime(2026, 11, 25, 8, 0, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
DUPLICATE = (DuplicateRowError, ConstraintViolation)


def card(batch: str, number: int, face_value: int, at: datetime) -> Voucher:
    """Card ``number`` of ``batch``; its PIN hash is made up from the serial (64 hex chars)."""
    serial = f"{batch}-{number:06d}"
    return Voucher(
        serial=serial,
        pin_hash=serial.encode().hex().ljust(64, "0"),
        face_value=face_value,
        currency="KES",
        batch=batch,
        created_at=at,
    )


async def _store(backend: Backend) -> None:
    """Batch A: three 50.00 cards at T0; batch B: two 200.00 cards at T1."""
    async with backend.new_uow() as uow:
        await uow.vouchers.add_many([card("A", n, 5_000, T0) for n in (1, 2, 3)])
        await uow.vouchers.add_many([card("B", n, 20_000, T1) for n in (1, 2)])
        await uow.commit()


async def _redeem(backend: Backend, serial: str, payment_id: str) -> bool:
    async with backend.new_uow() as uow:
        found = await uow.vouchers.get_by_pin_hash(serial.encode().hex().ljust(64, "0"))
        assert found is not None
        assert found.id is not None
        won = await uow.vouchers.redeem(
            found.id, msisdn="254700000001", payment_id=payment_id, at=T1
        )
        await uow.commit()
        return won


async def test_batch_summaries_count_by_status_and_sum_face_values(backend: Backend) -> None:
    """A-000002 redeemed: A is 3 cards, 2 active, 1 redeemed; values 15 000 = 10 000 + 5 000.

    Batch B (2 x 20 000 = 40 000, both active) comes second: batches are listed oldest first.
    """
    await _store(backend)
    assert await _redeem(backend, "A-000002", "p1")
    async with backend.new_uow() as uow:
        a = await uow.vouchers.batch("A")
        everyone = await uow.vouchers.batches(limit=50, offset=0)
        second = await uow.vouchers.batches(limit=1, offset=1)
        assert await uow.vouchers.batch("NOPE") is None
    expected_a = VoucherBatch(
        batch="A",
        currency="KES",
        face_value=5_000,
        count=3,
        active=2,
        redeemed=1,
        void=0,
        total_value=15_000,  # 3 x 5 000
        active_value=10_000,  # 2 x 5 000
        redeemed_value=5_000,
        created_at=T0,
    )
    expected_b = VoucherBatch(
        batch="B",
        currency="KES",
        face_value=20_000,
        count=2,
        active=2,
        redeemed=0,
        void=0,
        total_value=40_000,  # 2 x 20 000
        active_value=40_000,
        redeemed_value=0,
        created_at=T1,
    )
    assert a == expected_a
    assert everyone == [expected_a, expected_b]
    assert second == [expected_b]


async def test_in_batch_pages_cards_by_serial(backend: Backend) -> None:
    """Offset 1, limit 2 of batch A: A-000002 (redeemed, with who and when) and A-000003."""
    await _store(backend)
    assert await _redeem(backend, "A-000002", "p1")
    async with backend.new_uow() as uow:
        page = await uow.vouchers.in_batch("A", limit=2, offset=1)
        assert await uow.vouchers.in_batch("NOPE", limit=50, offset=0) == []
    assert [v.serial for v in page] == ["A-000002", "A-000003"]
    redeemed, active = page
    assert replace(redeemed, id=None) == replace(
        card("A", 2, 5_000, T0),
        status=VoucherStatus.REDEEMED,
        redeemed_at=T1,
        redeemed_by="254700000001",
        payment_id="p1",
    )
    assert replace(active, id=None) == card("A", 3, 5_000, T0)


async def test_void_batch_voids_only_active_cards_of_that_batch(backend: Backend) -> None:
    """Voiding A changes A-000001 and A-000003 (2), keeps A-000002 redeemed, leaves B alone.

    After it A is 0 active, 1 redeemed, 2 void; its active value 0. A voided card cannot be
    redeemed; voiding again or an unknown batch changes 0 cards.
    """
    await _store(backend)
    assert await _redeem(backend, "A-000002", "p1")
    async with backend.new_uow() as uow:
        assert await uow.vouchers.void_batch("A") == 2
        await uow.commit()
    async with backend.new_uow() as uow:
        assert await uow.vouchers.void_batch("A") == 0
        assert await uow.vouchers.void_batch("NOPE") == 0
        a = await uow.vouchers.batch("A")
        b = await uow.vouchers.batch("B")
        cards = await uow.vouchers.in_batch("A", limit=50, offset=0)
    assert a is not None
    assert b is not None
    assert (a.active, a.redeemed, a.void) == (0, 1, 2)
    assert (a.total_value, a.active_value, a.redeemed_value) == (15_000, 0, 5_000)
    assert (b.active, b.void) == (2, 0)
    assert [v.status for v in cards] == [
        VoucherStatus.VOID,
        VoucherStatus.REDEEMED,
        VoucherStatus.VOID,
    ]
    assert not await _redeem(backend, "A-000001", "p2")


async def test_add_many_is_all_or_nothing(backend: Backend) -> None:
    """A batch repeating a stored serial is refused whole: none of its cards is stored."""
    await _store(backend)
    async with backend.new_uow() as uow:
        with pytest.raises(DUPLICATE):
            await uow.vouchers.add_many([card("C", 1, 1_000, T1), card("A", 1, 1_000, T1)])
    async with backend.new_uow() as uow:
        assert await uow.vouchers.batch("C") is None
        await uow.vouchers.add_many([])
        assert len(await uow.vouchers.batches(limit=50, offset=0)) == 2


async def test_a_void_racing_a_redemption_lets_exactly_one_win(backend: Backend) -> None:
    """One card, a redemption and a void at once: either it is redeemed or it is void."""
    async with backend.new_uow() as uow:
        await uow.vouchers.add_many([card("R", 1, 5_000, T0)])
        await uow.commit()

    async def void() -> int:
        async with backend.new_uow() as uow:
            changed = await uow.vouchers.void_batch("R")
            await uow.commit()
            return changed

    redeemed, voided = await asyncio.gather(_redeem(backend, "R-000001", "p1"), void())
    assert (redeemed, voided) in {(True, 0), (False, 1)}
    async with backend.new_uow() as uow:
        summary = await uow.vouchers.batch("R")
    assert summary is not None
    assert (summary.redeemed, summary.void) == ((1, 0) if redeemed else (0, 1))
