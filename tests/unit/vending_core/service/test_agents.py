"""SMS agents through the service layer, on memory, SQLite and PostgreSQL (conftest ``world``).

The seeded vendor BANK1 has 100.00 float, 50.00 credit and 2 % commission. Units by hand from
the flat tariff (R2.00/kWh excl. VAT, 15 % VAT inclusive): R100.00 -> VAT 10000*15/115 =
1304.35 -> net 8695.65 / 200 = 43.478 kWh -> 43.4 kWh (434 tenths); R10.00 -> 869.57 / 200 =
4.347 kWh -> 4.3 kWh (43 tenths). Every token is entered into the reference meter.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

import pytest

import sts
from sts.identifiers import luhn_digit
from tests.support.core_world import SGC, VENDING_KEY, World
from vending_core.domain.agents import (
    AgentBlocked,
    AgentExists,
    AgentInfo,
    AgentInvalid,
    AgentLocked,
    AgentPinWrong,
    AgentStatus,
    AgentUnknown,
    LockoutPolicy,
)
from vending_core.domain.errors import VendorFloatExhausted
from vending_core.domain.model import Meter, Vendor
from vending_core.domain.records import VendKind
from vending_core.service.agents import (
    agent_vend,
    block_agent,
    change_agent_pin,
    find_agent,
    register_agent,
    unblock_agent,
)
from vending_core.service.results import VendResult

SALT = b"test deployment pin salt"
AGENT = "254712345678"
PIN = "4821"
R100 = 10_000
STRICT = LockoutPolicy(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=30))


@pytest.fixture
async def agent(world: World) -> AgentInfo:
    """An agent of BANK1 on +254 712 345 678 with PIN 4821."""
    return await register_agent(world.core, "+254 712 345 678", "BANK1", "Wanjiku", PIN, SALT)


_counter = iter(range(1, 10**9))


async def _sell(
    world: World, pin: str = PIN, *, amount: int = R100, request_id: str | None = None
) -> VendResult:
    return await agent_vend(
        world.core,
        msisdn=AGENT,
        pin=pin,
        meter=world.meter_number,
        amount=amount,
        client_id=f"sms-agent:{AGENT}",
        request_id=request_id or f"sms-{next(_counter)}",
        salt=SALT,
        lockout=STRICT,
    )


async def _balance(world: World, code: str = "BANK1") -> int:
    async with world.core.uow() as uow:
        vendor = await uow.vendors.get_by_code(code)
    assert vendor is not None
    return vendor.balance


async def test_agent_sale_debits_the_vendor_float_and_loads_the_meter(
    world: World, agent: AgentInfo
) -> None:
    """R100 by an agent: 43.4 kWh the meter accepts; BANK1 pays 100.00 - 2.00 commission."""
    assert agent.msisdn == AGENT  # "+254 712 345 678" stored as international digits
    result = await _sell(world)
    assert result.kind is VendKind.CREDIT
    assert result.credit_tenths == 434
    meter = world.reference_meter()
    assert [meter.enter(t.token).result for t in result.tokens] == [sts.MeterResult.ACCEPT]
    assert meter.credit_tenths() == 434
    assert await _balance(world) == 10_000 - (10_000 - 200)
    async with world.core.uow() as uow:
        vend = await uow.vends.get(result.vend_id)
    assert vend is not None
    assert (vend.channel, vend.vendor_code, vend.operator) == ("sms", "BANK1", f"agent:{AGENT}")


async def test_a_retried_sale_is_one_sale(world: World, agent: AgentInfo) -> None:
    """The same (client_id, request_id) twice: the stored result again, the float debited once."""
    first = await _sell(world, request_id="sms-42")
    again = await _sell(world, request_id="sms-42")
    assert (again.vend_id, again.tokens, again.replayed) == (first.vend_id, first.tokens, True)
    assert await _balance(world) == 200


async def test_the_vendor_credit_limit_still_applies(world: World, agent: AgentInfo) -> None:
    """After R100 (float 2.00 left, credit 50.00) an agent's R60 sale is refused, not sold."""
    await _sell(world)
    with pytest.raises(VendorFloatExhausted):
        await _sell(world, amount=6_000)
    assert await _balance(world) == 200


async def test_wrong_pin_sells_nothing(world: World, agent: AgentInfo) -> None:
    """A wrong PIN is AgentPinWrong and the float is untouched."""
    with pytest.raises(AgentPinWrong):
        await _sell(world, "4822")
    assert await _balance(world) == 10_000


async def test_third_wrong_pin_locks_even_the_right_pin_out(world: World, agent: AgentInfo) -> None:
    """3 wrong PINs in 15 min lock for 30 min: the right PIN is refused, then works again."""
    for _ in range(2):
        with pytest.raises(AgentPinWrong):
            await _sell(world, "0000")
    with pytest.raises(AgentLocked) as locked:
        await _sell(world, "0000")
    assert locked.value.until == world.clock.now + timedelta(minutes=30)
    with pytest.raises(AgentLocked):
        await _sell(world)  # the right PIN, refused without being checked
    world.clock.advance(minutes=29, seconds=59)
    with pytest.raises(AgentLocked):
        await _sell(world)
    world.clock.advance(seconds=1)
    assert (await _sell(world)).credit_tenths == 434


async def test_pins_sent_while_locked_are_not_counted(world: World, agent: AgentInfo) -> None:
    """Wrong PINs during the lock are not looked at: they neither extend nor renew it."""
    for _ in range(3):
        with pytest.raises((AgentPinWrong, AgentLocked)):
            await _sell(world, "0000")
    for _ in range(5):
        world.clock.advance(minutes=5)
        with pytest.raises(AgentLocked):
            await _sell(world, "0000")
    world.clock.advance(minutes=5)  # 30 minutes after the locking failure
    assert (await _sell(world)).credit_tenths == 434


async def test_failures_outside_the_window_start_a_new_count(
    world: World, agent: AgentInfo
) -> None:
    """2 wrong, 16 min later 2 wrong: no lock (each series is under 3 within 15 min)."""
    for _ in range(2):
        with pytest.raises(AgentPinWrong):
            await _sell(world, "0000")
    world.clock.advance(minutes=16)
    for _ in range(2):
        with pytest.raises(AgentPinWrong):
            await _sell(world, "0000")
    assert (await _sell(world)).credit_tenths == 434


async def test_a_right_pin_clears_the_count(world: World, agent: AgentInfo) -> None:
    """2 wrong, a right one, 2 wrong: never 3 counted, so no lock."""
    for pin in ["0000", "0000", PIN, "0000", "0000"]:
        if pin == PIN:
            await _sell(world, pin)
        else:
            with pytest.raises(AgentPinWrong):
                await _sell(world, pin)
    assert (await _sell(world, amount=1_000)).credit_tenths == 43


async def test_blocked_agent_is_refused_until_unblocked(world: World, agent: AgentInfo) -> None:
    """A blocked agent's right PIN is refused; unblocking lets it sell again."""
    info = await block_agent(world.core, AGENT)
    assert info.status is AgentStatus.BLOCKED
    with pytest.raises(AgentBlocked):
        await _sell(world)
    await unblock_agent(world.core, AGENT)
    assert (await _sell(world)).credit_tenths == 434


async def test_unknown_agents_are_refused(world: World) -> None:
    """A number that is not an agent (or not a number) is AgentUnknown."""
    with pytest.raises(AgentUnknown):
        await _sell(world)
    with pytest.raises(AgentUnknown):
        await block_agent(world.core, "not a phone")
    assert await find_agent(world.core, AGENT) is None


@pytest.mark.parametrize(
    ("msisdn", "vendor", "name", "pin", "why"),
    [
        ("0712345678", "BANK1", "W", "4821", "international"),  # national format
        ("2547123", "BANK1", "W", "4821", "international"),  # 7 digits
        ("2547123456789012", "BANK1", "W", "4821", "international"),  # 16 digits
        ("254712345678", "NOBODY", "W", "4821", "vendor"),
        ("254712345678", "BANK1", "  ", "4821", "name"),
        ("254712345678", "BANK1", "W" * 65, "4821", "name"),
        ("254712345678", "BANK1", "W", "482", "4 to 8"),
        ("254712345678", "BANK1", "W", "482194721", "4 to 8"),
        ("254712345678", "BANK1", "W", "48a1", "4 to 8"),
        ("254712345678", "BANK1", "W", "7777", "easy"),
        ("254712345678", "BANK1", "W", "3456", "easy"),
        ("254712345678", "BANK1", "W", "6543", "easy"),
    ],
)
async def test_registration_is_validated(
    world: World, msisdn: str, vendor: str, name: str, pin: str, why: str
) -> None:
    """Bad numbers, unknown vendors, empty or long names and weak PINs are AgentInvalid."""
    with pytest.raises(AgentInvalid, match=why):
        await register_agent(world.core, msisdn, vendor, name, pin, SALT)
    assert await find_agent(world.core, "254712345678") is None


async def test_a_number_is_one_agent(world: World, agent: AgentInfo) -> None:
    """Registering the same number again (any spelling) is AgentExists."""
    with pytest.raises(AgentExists):
        await register_agent(world.core, "254-712-345-678", "BANK1", "Other", "5930", SALT)
    assert await find_agent(world.core, "+254712345678") == agent


async def test_only_an_hmac_of_the_pin_is_stored(world: World, agent: AgentInfo) -> None:
    """The row holds hex HMAC-SHA256(salt, "<msisdn>:<pin>") and no field holds the PIN."""
    async with world.core.uow() as uow:
        stored = await uow.agents.get(AGENT)
    assert stored is not None
    expected = hmac.new(SALT, b"254712345678:4821", hashlib.sha256).hexdigest()
    assert stored.pin_hash == expected
    assert PIN not in repr(stored)
    assert "pin_hash" not in {f.name for f in fields(AgentInfo)}


async def test_change_pin_with_the_old_one(world: World, agent: AgentInfo) -> None:
    """A wrong old PIN changes nothing (and counts); with the right one the new PIN works."""
    with pytest.raises(AgentPinWrong):
        await change_agent_pin(world.core, AGENT, "5930", SALT, old_pin="9999", lockout=STRICT)
    await change_agent_pin(world.core, AGENT, "5930", SALT, old_pin=PIN, lockout=STRICT)
    with pytest.raises(AgentPinWrong):
        await _sell(world, PIN)
    assert (await _sell(world, "5930")).credit_tenths == 434


async def test_staff_pin_reset_clears_a_lock(world: World, agent: AgentInfo) -> None:
    """A reset without the old PIN (staff) sets the PIN and lifts the lock at once."""
    for _ in range(3):
        with pytest.raises((AgentPinWrong, AgentLocked)):
            await _sell(world, "0000")
    await change_agent_pin(world.core, AGENT, "5930", SALT)
    assert (await _sell(world, "5930")).credit_tenths == 434


async def _add_meters(world: World, count: int) -> list[str]:
    """``count`` more meters on the demo supply group: DRN 000000001 0 + Luhn digit, ..."""
    numbers = []
    async with world.core.uow() as uow:
        for n in range(1, count + 1):
            body = f"{n:09d}0"
            drn = body + str(luhn_digit(body))
            await uow.meters.add(
                Meter(
                    number=drn,
                    pan=sts.Pan.parse(drn).digits,
                    sgc=SGC,
                    ti=1,
                    krn=1,
                    base_date=2014,
                    ea=7,
                    dkga=4,
                    tariff_code="FLAT",
                )
            )
            numbers.append(drn)
        await uow.commit()
    return numbers


async def test_concurrent_agent_sales_never_pass_the_credit_limit(world: World) -> None:
    """20 sales of 10.00 at once on a float of 0 with 100.00 credit: exactly 10 are sold.

    Vendor EDGE: balance 0, credit limit 10 000, no commission, so each sale takes 1 000 and
    the 11th would need 1 000 of the 0 left. Two agents, 20 different meters (the meter
    locks do not serialise them; only the vendor's row does). The float ends at -10 000.
    """
    async with world.core.uow() as uow:
        edge = Vendor(code="EDGE", name="Edge", channel="sms", credit_limit=10_000)
        edge.commission = Decimal(0)
        await uow.vendors.add(edge)
        await uow.commit()
    agents = ["255700000001", "255700000002"]
    for number in agents:
        await register_agent(world.core, number, "EDGE", "Edge agent", "2580", SALT)
    meters = await _add_meters(world, 20)

    async def sell(i: int) -> VendResult | VendorFloatExhausted:
        try:
            return await agent_vend(
                world.core, msisdn=agents[i % 2], pin="2580", meter=meters[i], amount=1_000,
                client_id=f"sms-agent:{agents[i % 2]}", request_id=f"edge-{i}", salt=SALT,
            )  # fmt: skip
        except VendorFloatExhausted as exc:
            return exc

    outcomes = await asyncio.gather(*(sell(i) for i in range(20)))
    sold = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, VendResult)]
    assert len(sold) == 10
    assert await _balance(world, "EDGE") == -10_000
    for i, result in sold:  # each token loads 4.3 kWh on its own meter
        meter = sts.Meter.provision(
            vending_key=VENDING_KEY, dkga=4, pan=sts.Pan.parse(meters[i]), sgc=SGC, ti=1,
            krn=1, kt=sts.KeyType.DUTK, base_date=2014, ea=7,
        )  # fmt: skip
        assert [meter.enter(t.token).result for t in result.tokens] == [sts.MeterResult.ACCEPT]
        assert meter.credit_tenths() == 43
