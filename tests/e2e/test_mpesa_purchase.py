"""End to end over real HTTP with M-Pesa as the gateway's payment provider (a fake Daraja).

The gateway is configured as in production (``payment_provider="mpesa"`` and
``MpesaSettings`` pointing at the fake Daraja, with the gateway's own callback URL); the fake
sends its STK callback to ``/payments/mpesa/callback`` over HTTP. M-Pesa's PIN prompt needs
the USSD session closed, so the last screen always says "approve the payment" and the token
comes by SMS only.
"""

from __future__ import annotations

import asyncio
import re

from gateway import keys
from gateway.simulate import UssdSession, simulator
from sts import MeterResult
from tests.e2e.conftest import (
    TOKEN_RE,
    GatewayFactory,
    LiveGateway,
    MovableClock,
    eventually,
)
from tests.support.fake_daraja import FakeDaraja, Script
from vending_core.domain.payments import Payment, PaymentStatus
from vending_core.service import payments, vending
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[3]  # no Free Basic Electricity: one token per sale
QUOTE_RE = re.compile(r"^100 buys (\d+)\.(\d) kWh", re.MULTILINE)


async def vends_of(gateway: LiveGateway, meter: str) -> int:
    """How many vends the meter has in the database."""
    core = gateway.app[keys.PURCHASES].core
    return len(await vending.reprint(core, meter, limit=100))


async def buy_100(gateway: LiveGateway, msisdn: str) -> tuple[UssdSession, int, str]:
    """Walk the buy menu for 100 on METER; (session, quoted tenths, final screen text)."""
    session = simulator("africastalking", gateway.http, gateway.base_url, msisdn=msisdn)
    assert not (await session.dial()).end
    for text in ("1", METER.number, "1"):
        assert not (await session.send(text)).end
    quote = await session.send("100")
    match = QUOTE_RE.search(quote.text)
    assert match is not None, quote.text
    final = await session.send("1")
    assert final.end, final.text
    return session, int(match[1]) * 10 + int(match[2]), final.text


async def payment_when(
    gateway: LiveGateway, session: UssdSession, status: PaymentStatus
) -> Payment:
    """The session's payment once it has ``status`` (fails after 5 seconds)."""
    core = gateway.app[keys.PURCHASES].core
    request_id = f"ussd:africastalking:{session.session_id}:buy"
    async with asyncio.timeout(5):
        while True:
            payment = await payments.find_payment(core, "ussd", request_id)
            if payment is not None and payment.status is status:
                return payment
            await asyncio.sleep(0.05)


def sms_count(gateway: LiveGateway, msisdn: str) -> int:
    """How many SMS the memory sender sent to ``msisdn`` so far."""
    return len([m for m in gateway.sms.sent if m.to == msisdn.removeprefix("+")])


async def test_mpesa_purchase_ends_on_approve_screen_and_the_sms_token_loads_the_quote(
    start_mpesa_gateway: GatewayFactory, fake_daraja: FakeDaraja
) -> None:
    """USSD purchase paid by M-Pesa: "approve" screen, one STK push, one token SMS.

    The push asks for 100 whole shillings (10000 minor units / 100), names the meter as
    AccountReference and the gateway's callback route as CallBackURL. The fake's callback
    over HTTP makes one vend; its token (SMS only, never on the screen) loads exactly the
    quoted units on the demo meter's reference meter.
    """
    gateway = await start_mpesa_gateway()
    msisdn = "+254711500001"
    _, quoted, final = await buy_100(gateway, msisdn)
    assert "Approve the payment" in final
    assert TOKEN_RE.findall(final) == []
    (push,) = fake_daraja.pushes
    assert push.body["Amount"] == 100
    assert push.body["PhoneNumber"] == "254711500001"
    assert push.body["AccountReference"] == METER.number
    assert push.body["CallBackURL"] == f"{gateway.base_url}/payments/mpesa/callback"
    (sms,) = await gateway.sms_to(msisdn)
    (token,) = TOKEN_RE.findall(sms)
    meter = METER.reference_meter()
    entered = meter.enter(token.replace(" ", ""))
    assert entered.result is MeterResult.ACCEPT, entered.message
    assert meter.credit_tenths() == quoted
    await asyncio.sleep(0.3)  # room for a wrong second SMS
    assert sms_count(gateway, msisdn) == 1
    assert await vends_of(gateway, METER.number) == 1


async def test_mpesa_callback_sent_twice_vends_once(
    start_mpesa_gateway: GatewayFactory, fake_daraja: FakeDaraja
) -> None:
    """Daraja redelivers the PAID callback: both are acknowledged, one vend, one token SMS."""
    gateway = await start_mpesa_gateway()
    msisdn = "+254711500002"
    fake_daraja.scripts_by_phone["254711500002"] = Script.TWICE
    session, _, _ = await buy_100(gateway, msisdn)
    await gateway.sms_to(msisdn)
    await eventually(lambda: len(fake_daraja.pushes[0].callbacks) == 2)  # Daraja sent it twice
    await asyncio.sleep(0.3)  # the second delivery lands and is applied (or not)
    assert fake_daraja.problems == []
    assert sms_count(gateway, msisdn) == 1
    assert await vends_of(gateway, METER.number) == 1
    payment = await payment_when(gateway, session, PaymentStatus.VENDED)
    assert payment.vend_id is not None


async def test_mpesa_cancelled_by_the_payer_sells_nothing(
    start_mpesa_gateway: GatewayFactory, fake_daraja: FakeDaraja
) -> None:
    """The payer cancels the PIN prompt (ResultCode 1032): abandoned, no vend, no token SMS."""
    gateway = await start_mpesa_gateway()
    msisdn = "+254711500003"
    fake_daraja.scripts_by_phone["254711500003"] = Script.CANCELLED
    session, _, final = await buy_100(gateway, msisdn)
    assert "Approve the payment" in final
    payment = await payment_when(gateway, session, PaymentStatus.ABANDONED)
    assert payment.vend_id is None
    await asyncio.sleep(0.3)  # outbox polls every 0.1 s: a wrong SMS would be out by now
    assert sms_count(gateway, msisdn) == 0
    assert await vends_of(gateway, METER.number) == 0


async def test_mpesa_callback_never_arrives_status_query_finds_it_paid(
    start_mpesa_gateway: GatewayFactory, fake_daraja: FakeDaraja
) -> None:
    """Paid, but Daraja never calls back: the maintenance task's status query sells it once.

    The maintenance task only queries payments older than 10 s; instead of sleeping, the
    gateway's clock (Overrides.clock) is moved 11 s ahead once the payer has answered.
    """
    clock = MovableClock()
    gateway = await start_mpesa_gateway(clock=clock)
    msisdn = "+254711500004"
    fake_daraja.scripts_by_phone["254711500004"] = Script.NEVER
    session, quoted, _ = await buy_100(gateway, msisdn)
    await eventually(lambda: fake_daraja.pushes[0].decided)
    await asyncio.sleep(0.5)  # two maintenance rounds: too young to be queried yet
    assert fake_daraja.queries == []
    clock.advance(11)
    (sms,) = await gateway.sms_to(msisdn)
    assert fake_daraja.pushes[0].callbacks == []
    assert len(fake_daraja.queries) >= 1
    (token,) = TOKEN_RE.findall(sms)
    meter = METER.reference_meter()
    assert meter.enter(token.replace(" ", "")).result is MeterResult.ACCEPT
    assert meter.credit_tenths() == quoted
    payment = await payment_when(gateway, session, PaymentStatus.VENDED)
    assert payment.vend_id is not None
    await asyncio.sleep(0.5)  # more maintenance rounds: nothing new
    assert sms_count(gateway, msisdn) == 1
    assert await vends_of(gateway, METER.number) == 1
