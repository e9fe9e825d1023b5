"""End to end over real HTTP: the other ways a USSD purchase gets paid.

The wallet pays at once from the customer's prepaid balance (or refuses); a sandbox payment
that reports before the provider call has even returned still vends once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway import keys
from gateway.simulate import simulator
from tests.e2e.conftest import TOKEN_RE, GatewayFactory, LiveGateway
from vending_core.adapters.payments_wallet import credit_wallet
from vending_core.service import vending
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[4]  # no Free Basic Electricity: one token per sale


async def buy_100(gateway: LiveGateway, msisdn: str) -> str:
    """Walk the buy menu for 100 on METER; the final screen's text."""
    session = simulator("hubtel", gateway.http, gateway.base_url, msisdn=msisdn)
    await session.dial()
    for text in ("1", METER.number, "1", "100"):
        assert not (await session.send(text)).end
    final = await session.send("1")
    assert final.end
    return final.text


async def test_wallet_pays_at_once_and_the_token_is_on_screen(
    start_gateway: GatewayFactory,
) -> None:
    """A wallet of 200.00 pays 100.00: the token shows, and a second purchase leaves 0.00.

    The third purchase finds the wallet empty and is refused with a clear message; three
    purchases, two vends.
    """
    gateway = await start_gateway(payment_provider="wallet")
    core = gateway.app[keys.PURCHASES].core
    await credit_wallet(core.uow, "254711000201", 20_000, "topup-1", datetime.now(UTC))
    first = await buy_100(gateway, "+254711000201")
    second = await buy_100(gateway, "+254711000201")
    assert len(TOKEN_RE.findall(first)) == 1
    assert len(TOKEN_RE.findall(second)) == 1
    third = await buy_100(gateway, "+254711000201")
    assert "The payment did not go through." in third
    assert len(await vending.reprint(core, METER.number, limit=10)) == 2


async def test_payment_reported_before_the_provider_call_returns_vends_once(
    gateway: LiveGateway,
) -> None:
    """254700000999's sandbox payment is reported with no delay, racing the intent's update.

    The report finds the payment by our id; one vend; the token is on the final screen.
    """
    text = await buy_100(gateway, "+254700000999")
    assert len(TOKEN_RE.findall(text)) == 1
    core = gateway.app[keys.PURCHASES].core
    assert len(await vending.reprint(core, METER.number, limit=10)) == 1
