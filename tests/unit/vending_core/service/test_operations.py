"""Back-office operations through the service layer, checked on the reference meter."""

from __future__ import annotations

from dataclasses import replace

import pytest

import sts
from tests.support.core_world import SGC, World
from vending_core.domain.errors import FreeBasicNotDue, ReversalRefused, TidExhausted
from vending_core.domain.model import SupplyGroup
from vending_core.domain.records import TokenKind, VendStatus
from vending_core.service.core import key_ref_for
from vending_core.service.operations import (
    EngineeringKind,
    change_key,
    issue_engineering_token,
    record_maintenance_request,
    reverse,
)
from vending_core.service.vending import issue_free_basic, reprint, vend_credit

R = sts.MeterResult


async def _set_meter(world: World, **changes: object) -> None:
    async with world.core.uow() as uow:
        meter = await uow.meters.get_by_number(world.meter_number)
        assert meter is not None
        await uow.meters.update(replace(meter, **changes))  # type: ignore[arg-type]
        await uow.commit()


async def test_reversal_restores_the_vendor_float(world: World) -> None:
    """Reversing a sale credits the vendor back (gross less commission) and marks it."""
    sale = await vend_credit(
        world.core, world.next_request(vendor_code="BANK1"), world.meter_number, 10_000
    )
    reversed_ = await reverse(
        world.core, world.next_request(), sale.vend_id, reason="wrong meter", authorised_by="sup"
    )
    assert reversed_.status is VendStatus.REVERSED
    assert reversed_.tokens == sale.tokens  # the record keeps the tokens it cannot take back
    async with world.core.uow() as uow:
        vendor = await uow.vendors.get_by_code("BANK1")
        assert vendor is not None
        entries = await uow.vendors.entries(vendor.id or 0)
    assert vendor.balance == 10_000  # 10000 - 9800 + 9800
    assert [e.kind for e in entries] == ["sale", "reversal"]
    with pytest.raises(ReversalRefused):
        await reverse(
            world.core, world.next_request(), sale.vend_id, reason="again", authorised_by="sup"
        )


async def test_reversal_needs_a_reason(world: World) -> None:
    """An empty reason is refused."""
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    with pytest.raises(ReversalRefused):
        await reverse(world.core, world.next_request(), sale.vend_id, reason=" ", authorised_by="x")


@pytest.mark.parametrize(
    ("kind", "value", "check"),
    [
        (EngineeringKind.CLEAR_TAMPER, None, lambda m: not m.tampered),
        (EngineeringKind.SET_POWER_LIMIT, 5000, lambda m: m.max_power_watts == 5000),
        (
            EngineeringKind.SET_PHASE_UNBALANCE_LIMIT,
            800,
            lambda m: m.max_phase_unbalance_watts == 800,
        ),
        (EngineeringKind.CLEAR_CREDIT, None, lambda m: m.credit_tenths() == 0),
    ],
)
async def test_engineering_tokens_work_on_the_meter(
    world: World, kind: EngineeringKind, value: int | None, check: object
) -> None:
    """Each engineering token is accepted by the reference meter and does its job."""
    meter = world.reference_meter()
    meter.tamper()
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert meter.enter(sale.tokens[0].token).result is R.ACCEPT
    result = await issue_engineering_token(
        world.core, world.next_request(), world.meter_number, kind, value=value
    )
    (token,) = result.tokens
    assert token.kind.value == kind.value
    assert meter.enter(token.token).result is R.ACCEPT
    assert callable(check)
    assert check(meter)


async def test_key_change_to_a_new_key_revision(world: World) -> None:
    """KRN 1 -> 2: a 2-token set under the old key; later credit loads under the new key."""
    async with world.core.uow() as uow:
        group = await uow.supply_groups.get(SGC)
        assert group is not None
        await uow.supply_groups.update(replace(group, key_revision=2, key_ref=key_ref_for(SGC, 2)))
        await uow.commit()
    meter = world.reference_meter()
    change = await change_key(world.core, world.next_request(), world.meter_number)
    assert [t.kind for t in change.tokens] == [TokenKind.KEY_CHANGE] * 2
    assert [meter.enter(t.token).result for t in change.tokens] == [
        R.KCT1_ACCEPTED,
        R.KCT2_ACCEPTED,
    ]
    assert meter.krn == 2
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert meter.enter(sale.tokens[0].token).result is R.ACCEPT
    assert meter.credit_tenths() == 434


async def test_rollover_from_base_date_1993(world: World) -> None:
    """A 1993-base meter cannot vend after the 2024 rollover; RO key change to 2014 fixes it."""
    await _set_meter(world, base_date=1993, last_tid=(1 << 24) - 1)
    with pytest.raises(TidExhausted):
        await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    meter = world.reference_meter(base_date=1993)
    change = await change_key(world.core, world.next_request(), world.meter_number, base_date=2014)
    assert [meter.enter(t.token).result for t in change.tokens] == [
        R.KCT1_ACCEPTED,
        R.KCT2_ACCEPTED,
    ]
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert meter.enter(sale.tokens[0].token).result is R.ACCEPT


async def test_sgc_change_uses_a_three_token_set(world: World) -> None:
    """Moving an EA07 meter to another supply group sends the SGC in a 3rd token."""
    meter = world.reference_meter()
    change = await change_key(world.core, world.next_request(), world.meter_number, sgc="201458")
    results = [meter.enter(t.token).result for t in change.tokens]
    assert results == [R.KCT1_ACCEPTED, R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    assert meter.sgc == "201458"
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert meter.enter(sale.tokens[0].token).result is R.ACCEPT


async def test_key_change_to_a_group_with_another_derivation_algorithm(world: World) -> None:
    """DKGA04 group 201457 -> DKGA02 group 300001: the new key is derived with DKGA02.

    DKGA02 takes an 8-byte vending key (DKGA04 a longer one), so deriving the new key with
    the meter's old algorithm would fail; the set carries the DKGA02 key and a later credit
    token, made with that key, loads on the reference meter.
    """
    await world.core.keys.store(key_ref_for("300001", 1), bytes.fromhex("ABABABABABABABAB"))
    async with world.core.uow() as uow:
        await uow.supply_groups.add(
            SupplyGroup(
                sgc="300001",
                name="DKGA02 group",
                key_ref=key_ref_for("300001", 1),
                dkga=2,
                key_revision=1,
                base_date=2014,
            )
        )
        await uow.commit()
    meter = world.reference_meter()
    change = await change_key(world.core, world.next_request(), world.meter_number, sgc="300001")
    results = [meter.enter(t.token).result for t in change.tokens]
    assert results == [R.KCT1_ACCEPTED, R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert meter.enter(sale.tokens[0].token).result is R.ACCEPT


async def test_free_basic_once_a_month(world: World) -> None:
    """A registered meter gets 50.0 kWh FBE alone once a month; the second claim is refused."""
    await _set_meter(world, fbe_registered=True)
    meter = world.reference_meter()
    result = await issue_free_basic(world.core, world.next_request(), world.meter_number)
    assert [(t.kind, t.tenths) for t in result.tokens] == [(TokenKind.FREE_BASIC, 500)]
    assert meter.enter(result.tokens[0].token).result is R.ACCEPT
    with pytest.raises(FreeBasicNotDue):
        await issue_free_basic(world.core, world.next_request(), world.meter_number)
    world.clock.advance(days=30)  # 2026-04-09: a new month
    again = await issue_free_basic(world.core, world.next_request(), world.meter_number)
    assert meter.enter(again.tokens[0].token).result is R.ACCEPT


async def test_free_basic_with_first_purchase(world: World) -> None:
    """The month's first purchase carries the FBE token first, then credit; both load."""
    await _set_meter(world, fbe_registered=True)
    meter = world.reference_meter()
    sale = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert [t.kind for t in sale.tokens] == [TokenKind.FREE_BASIC, TokenKind.CREDIT]
    assert [meter.enter(t.token).result for t in sale.tokens] == [R.ACCEPT, R.ACCEPT]
    assert meter.credit_tenths() == 500 + 434  # flat tariff: FBE does not change the price
    second = await vend_credit(world.core, world.next_request(), world.meter_number, 10_000)
    assert [t.kind for t in second.tokens] == [TokenKind.CREDIT]


async def test_unregistered_meter_gets_no_free_basic(world: World) -> None:
    """FBE alone for an unregistered meter is refused with FreeBasicNotDue."""
    with pytest.raises(FreeBasicNotDue):
        await issue_free_basic(world.core, world.next_request(), world.meter_number)
    assert await reprint(world.core, world.meter_number) == []


async def test_maintenance_request_is_recorded(world: World) -> None:
    """A maintenance request is stored open, with who reported it."""
    request_id = await record_maintenance_request(
        world.core, world.meter_number, "display dead", reported_by="agent 7"
    )
    async with world.core.uow() as uow:
        stored = await uow.maintenance.get(request_id)
    assert stored is not None
    assert (stored.description, stored.reported_by, stored.status.value) == (
        "display dead",
        "agent 7",
        "open",
    )
