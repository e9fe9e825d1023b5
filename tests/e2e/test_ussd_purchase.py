"""End to end over real HTTP: a customer buys electricity by USSD through each aggregator.

The token is read from the final screen and from the SMS the outbox sent, entered into the
STS reference meter built from the demo meter's keys, and must load exactly the units the
quote screen promised.
"""

from __future__ import annotations

import re

import pytest

from gateway.simulate import PROVIDERS, UssdSession, simulator
from sts import MeterResult
from tests.e2e.conftest import TOKEN_RE, LiveGateway
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[2]  # no Free Basic Electricity: one token per sale
QUOTE_RE = re.compile(r"^100 buys (\d+)\.(\d) kWh", re.MULTILINE)


async def buy(session: UssdSession, meter: str, amount: str) -> tuple[int, str]:
    """Walk the buy menu; returns (quoted tenths, final screen text)."""
    assert not (await session.dial()).end
    assert "Choose a meter" in (await session.send("1")).text
    confirm = await session.send(meter)
    assert METER.customer in confirm.text, confirm.text
    assert "Enter the amount" in (await session.send("1")).text
    quote = await session.send(amount)
    match = QUOTE_RE.search(quote.text)
    assert match is not None, quote.text
    final = await session.send("1")
    assert final.end, final.text
    return int(match[1]) * 10 + int(match[2]), final.text


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_full_purchase_token_on_screen_and_by_sms_loads_the_quoted_units(
    gateway: LiveGateway, provider: str
) -> None:
    """Dial, pick the meter, confirm, amount 100, pay: the token shows and comes by SMS.

    Both copies are the same token; the reference meter accepts it and its credit register
    grows by exactly the quoted units.
    """
    msisdn = "+254711000001"
    session = simulator(provider, gateway.http, gateway.base_url, msisdn=msisdn)
    quoted, final = await buy(session, METER.number, "100")
    on_screen = TOKEN_RE.findall(final)
    assert len(on_screen) == 1, final
    (sms,) = await gateway.sms_to(msisdn)
    assert TOKEN_RE.findall(sms) == on_screen
    meter = METER.reference_meter()
    entered = meter.enter(on_screen[0].replace(" ", ""))
    assert entered.result is MeterResult.ACCEPT, entered.message
    assert meter.credit_tenths() == quoted
