"""Selling through the service layer on the in-memory adapters.

Every token is entered into the reference meter ``sts.Meter``. Expected units are worked
by hand from the flat tariff in conftest: R2.00/kWh excl. VAT, VAT 15 % inclusive.
"""

from __future__ import annotations

import asyncio

import pytest

import sts
from tests.support.core_world import World
from vending_core.domain.errors import (
    IdempotencyConflict,
    InvalidMeterNumber,
    MeterBlocked,
    MeterUnknown,
    VendorFloatExhausted,
)
from vending_core.domain.records import TokenKind
from vending_core.service.operations import block_meter, unblock_meter
from vending_core.service.vending import confirm_customer, quote, reprint, vend_credit


def _enter_all(meter: sts.Meter, tokens: list[str]) -> list[sts.MeterResult]:
    return [meter.enter(token).result for token in tokens]


async def test_vend_loads_the_paid_units(world: World) -> None:
    """R100.00: VAT 10000*15/115 = 1304.35 -> 13.04; net 86.96 / 2.00 = 43.48 -> 43.4 kWh."""
    result = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert result.credit_tenths == 434
    assert [line.kind for line in result.tokens] == [TokenKind.CREDIT]
    assert sum(line.amount for line in result.lines) == 10_000
    meter = world.reference_meter()
    assert _enter_all(meter, [t.token for t in result.tokens]) == [sts.MeterResult.ACCEPT]
    assert meter.credit_tenths() == 434


async def test_two_vends_in_one_minute_both_load(world: World) -> None:
    """Same minute, same meter: TIDs t and t+1, and the meter accepts both."""
    first = await vend_credit(world.core, world.next_request(), world.meter_number, 5_000)
    second = await vend_credit(world.core, world.next_request(), world.meter_number, 5_000)
    tid1, tid2 = first.tokens[0].tid, second.tokens[0].tid
    assert tid1 is not None
    assert tid2 == tid1 + 1
    meter = world.reference_meter()
    tokens = [first.tokens[0].token, second.tokens[0].token]
    assert _enter_all(meter, tokens) == [sts.MeterResult.ACCEPT] * 2
    assert meter.credit_tenths() == 2 * 217  # R50: 43.48 / 2 -> 21.74 -> 21.7 kWh each


async def test_replay_returns_the_same_tokens(world: World) -> None:
    """The same request id gives back the stored result: same vend, same token."""
    ctx = world.next_request(request_id="abc")
    first = await vend_credit(world.core, ctx, world.meter_number, 10_000)
    again = await vend_credit(world.core, ctx, world.meter_number, 10_000)
    assert again == first
    assert again.replayed
    assert not first.replayed
    history = await reprint(world.core, world.meter_number)
    assert len(history) == 1


async def test_reused_request_id_with_other_body_is_refused(world: World) -> None:
    """A request id reused for another amount is an IdempotencyConflict, not a vend."""
    ctx = world.next_request(request_id="abc")
    await vend_credit(world.core, ctx, world.meter_number, 10_000)
    with pytest.raises(IdempotencyConflict):
        await vend_credit(world.core, ctx, world.meter_number, 20_000)


async def test_concurrent_duplicates_make_one_vend(world: World) -> None:
    """Twenty identical requests at once: one vend, twenty identical answers."""
    ctx = world.next_request(request_id="same")
    results = await asyncio.gather(
        *(vend_credit(world.core, ctx, world.meter_number, 10_000) for _ in range(20))
    )
    assert len({r.vend_id for r in results}) == 1
    assert len({r.tokens for r in results}) == 1
    assert len(await reprint(world.core, world.meter_number)) == 1


async def test_refusals(world: World) -> None:
    """Unknown, invalid and blocked meters are refused before anything is stored."""
    with pytest.raises(MeterUnknown):
        await vend_credit(world.core, world.next_request(), "01234567897", 10_000)
    with pytest.raises(InvalidMeterNumber):
        await vend_credit(world.core, world.next_request(), "1234", 10_000)
    await block_meter(world.core, world.meter_number, reason="tamper", actor="ops")
    with pytest.raises(MeterBlocked):
        await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    info = await confirm_customer(world.core, world.meter_number)
    assert (info.can_vend, info.reason) == (False, "meter-blocked")
    await unblock_meter(world.core, world.meter_number, reason="fixed", actor="ops")
    await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert len(await reprint(world.core, world.meter_number)) == 1


async def test_quote_changes_nothing(world: World) -> None:
    """A quote prices the sale (43.4 kWh for R100) and stores nothing."""
    breakdown = await quote(world.core, world.meter_number, 10_000)
    assert breakdown.credit_tenths == 434
    assert await reprint(world.core, world.meter_number) == []


async def test_vendor_float(world: World) -> None:
    """The vendor float (100.00 + 50.00 credit) pays for sales less 2 % commission."""
    ctx = world.next_request(vendor_code="BANK1")
    await vend_credit(world.core, ctx, world.meter_number, 10_000)  # 10000 - 200 commission
    async with world.core.uow() as uow:
        vendor = await uow.vendors.get_by_code("BANK1")
    assert vendor is not None
    assert vendor.balance == 10_000 - 9_800
    with pytest.raises(VendorFloatExhausted):  # 200 + 5000 available
        await vend_credit(
            world.core, world.next_request(vendor_code="BANK1"), world.meter_number, 6_000
        )


async def test_reprint_gives_the_same_tokens_oldest_first(world: World) -> None:
    """Reprint returns stored tokens, oldest first, marked as copies; nothing new is minted."""
    first = await vend_credit(world.core, world.next_request(), world.meter_number, 5_000)
    second = await vend_credit(world.core, world.next_request(), world.meter_number, 6_000)
    copies = await reprint(world.core, world.meter_number)
    assert [c.tokens for c in copies] == [first.tokens, second.tokens]
    assert all(c.replayed for c in copies)
