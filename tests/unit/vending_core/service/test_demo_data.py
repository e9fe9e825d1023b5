"""The demo data loads once, and every demo meter can be sold to; its tokens load."""

from __future__ import annotations

import sts
from tests.support.core_world import Clock
from vending_core.adapters.memory import MemoryKeyStore, memory_uow_factory
from vending_core.domain.records import TokenKind
from vending_core.service.core import Core, RequestContext
from vending_core.service.demo_data import DEMO_METERS, DKGA02_KEY, DKGA04_KEY, load_demo_data
from vending_core.service.vending import vend_credit


def _reference_meter(number: str, sgc: str, dkga: int, ea: int) -> sts.Meter:
    return sts.Meter.provision(
        vending_key=DKGA02_KEY if dkga == 2 else DKGA04_KEY,
        dkga=dkga,
        pan=sts.Pan.parse(number),
        sgc=sgc,
        ti=1,
        krn=1,
        kt=sts.KeyType.DUTK,
        base_date=2014,
        ea=ea,
    )


async def test_every_demo_meter_sells_and_loads(clock: Clock) -> None:
    """Each of the twelve meters (DKGA02/EA07, DKGA04/EA07, DKGA04/EA11) takes a R100 sale."""
    core = Core(uow=memory_uow_factory(), keys=MemoryKeyStore(), clock=clock)
    assert await load_demo_data(core)
    assert not await load_demo_data(core)  # the second run changes nothing
    for index, demo in enumerate(DEMO_METERS):
        ctx = RequestContext(client_id="demo", request_id=str(index), channel="test")
        result = await vend_credit(core, ctx, demo.number, 10_000)
        meter = _reference_meter(demo.number, demo.sgc, demo.dkga, demo.ea)
        for line in result.tokens:
            assert meter.enter(line.token).result is sts.MeterResult.ACCEPT, demo
        expected = {TokenKind.FREE_BASIC} if demo.fbe else set()
        assert {t.kind for t in result.tokens} - {TokenKind.CREDIT} == expected
        assert meter.credit_tenths() == result.credit_tenths + result.fbe_tenths


async def test_first_customer_pays_debt(clock: Clock) -> None:
    """Demo customer 1 owes R150.00: a R100 purchase recovers 25 % of it, R25.00."""
    core = Core(uow=memory_uow_factory(), keys=MemoryKeyStore(), clock=clock)
    await load_demo_data(core)
    ctx = RequestContext(client_id="demo", request_id="1", channel="test")
    result = await vend_credit(core, ctx, DEMO_METERS[0].number, 10_000)
    assert {line.label: line.amount for line in result.lines}["debt"] == 2_500
