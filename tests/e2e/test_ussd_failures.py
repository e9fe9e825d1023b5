"""End to end over real HTTP: retries, races, drops and failures never charge twice or lose a token.

Every test counts vends in the database (``reprint`` lists a meter's stored vends) and SMS
in the memory sender, so "exactly one vend per paid purchase" is checked, not assumed.
"""

from __future__ import annotations

import asyncio

from gateway import keys
from gateway.simulate import simulator
from tests.e2e.conftest import TOKEN_RE, GatewayFactory, LiveGateway
from vending_core.domain.payments import PaymentStatus
from vending_core.service import payments, vending
from vending_core.service.demo_data import DEMO_METERS
from vending_core.service.payment_ports import PaymentOutcome, ProviderResult

METER = DEMO_METERS[3]  # no Free Basic Electricity: one token per sale


async def vends_of(gateway: LiveGateway, meter: str) -> int:
    """How many vends the meter has in the database."""
    core = gateway.app[keys.PURCHASES].core
    return len(await vending.reprint(core, meter, limit=100))


async def to_pay_screen(gateway: LiveGateway, msisdn: str, provider: str = "africastalking"):  # type: ignore[no-untyped-def]
    """A session standing on the quote screen for 100 on METER."""
    session = simulator(provider, gateway.http, gateway.base_url, msisdn=msisdn)
    await session.dial()
    for text in ("1", METER.number, "1", "100"):
        screen = await session.send(text)
        assert not screen.end, screen.text
    return session


async def test_retried_pay_hop_gets_the_same_screen_and_one_vend(gateway: LiveGateway) -> None:
    """The aggregator resends the pay hop three times: same END screen, one vend, one SMS."""
    session = await to_pay_screen(gateway, "+254711000101")
    final = await session.send("1")
    again = [await session.resend() for _ in range(3)]
    assert all(a.text == final.text for a in again)
    assert len(await gateway.sms_to("+254711000101")) == 1
    assert await vends_of(gateway, METER.number) == 1


async def test_concurrent_pay_hops_of_one_session_vend_once(gateway: LiveGateway) -> None:
    """Five copies of the pay hop arrive at once: they queue on the session lock, one pays."""
    session = await to_pay_screen(gateway, "+254711000102")
    session.inputs.append("1")
    request = session._request(new=False, latest="1")
    screens = await asyncio.gather(*(session._send_raw(*request) for _ in range(5)))
    assert len({s.text for s in screens}) == 1
    assert len(TOKEN_RE.findall(screens[0].text)) == 1
    await asyncio.sleep(0.3)
    assert len(await gateway.sms_to("+254711000102")) == 1
    assert await vends_of(gateway, METER.number) == 1


async def test_failed_payment_ends_with_a_clear_message_and_no_vend(gateway: LiveGateway) -> None:
    """The sandbox fails payments from 254700000666: the END screen says so; nothing is sold."""
    session = await to_pay_screen(gateway, "+254700000666")
    final = await session.send("1")
    assert final.end
    assert "The payment did not go through." in final.text
    assert await vends_of(gateway, METER.number) == 0


async def test_payment_that_never_completes_expires_without_a_vend(
    start_gateway: GatewayFactory,
) -> None:
    """A payment that is never reported expires after its TTL; nothing is ever sold.

    254700000777's payment is never reported: the screen says "approve on your phone", and
    after the payment TTL the maintenance task expires it.
    """
    gateway = await start_gateway(payment_ttl=0.5, ussd_token_wait=0.2)
    session = await to_pay_screen(gateway, "+254700000777")
    final = await session.send("1")
    assert "Approve the payment" in final.text
    core = gateway.app[keys.PURCHASES].core
    request_id = f"ussd:africastalking:{session.session_id}:buy"
    async with asyncio.timeout(5):
        while True:
            payment = await payments.find_payment(core, "ussd", request_id)
            assert payment is not None
            if payment.status is PaymentStatus.EXPIRED:
                break
            await asyncio.sleep(0.1)
    assert await vends_of(gateway, METER.number) == 0


async def test_callback_replayed_ten_times_vends_once(start_gateway: GatewayFactory) -> None:
    """A PAID callback replayed ten times, concurrently, over HTTP: one vend, one SMS.

    Every delivery is acknowledged (200).
    """
    gateway = await start_gateway(ussd_token_wait=0.1)
    session = await to_pay_screen(gateway, "+254700000777")  # silent: we play the provider
    await session.send("1")
    core = gateway.app[keys.PURCHASES].core
    payment = await payments.find_payment(
        core, "ussd", f"ussd:africastalking:{session.session_id}:buy"
    )
    assert payment is not None
    assert payment.provider_reference is not None
    sandbox = gateway.app[keys.PURCHASES].providers["sandbox"]
    callback = {  # the sandbox's own callback shape (gateway.payments.sandbox)
        "reference": payment.provider_reference,
        "payment_id": payment.id,
        "outcome": "paid",
        "amount": payment.amount,
        "currency": payment.currency,
        "receipt": "SBXRECEIPT1",
        "reason": "paid (test)",
    }
    result = ProviderResult(
        provider="sandbox",
        provider_reference=payment.provider_reference,
        outcome=PaymentOutcome.PAID,
        raw=callback,
    )
    body = sandbox.encode_callback(result)  # type: ignore[attr-defined]
    url = f"{gateway.base_url}/payments/sandbox/callback"

    async def post() -> int:
        async with gateway.http.post(
            url, data=body, headers={"Content-Type": "application/json"}
        ) as r:
            return r.status

    statuses = await asyncio.gather(*(post() for _ in range(10)))
    assert statuses == [200] * 10
    assert len(await gateway.sms_to("+254700000777")) == 1
    await asyncio.sleep(0.3)
    assert len(await gateway.sms_to("+254700000777")) == 1
    assert await vends_of(gateway, METER.number) == 1


async def test_sms_provider_down_then_back_sends_the_token_once(gateway: LiveGateway) -> None:
    """The SMS provider is down during the purchase, then back: the token SMS leaves once.

    The token is on the final screen meanwhile.
    """
    gateway.sms.down()
    session = await to_pay_screen(gateway, "+254711000103")
    final = await session.send("1")
    assert len(TOKEN_RE.findall(final.text)) == 1
    await asyncio.sleep(0.5)
    assert [m for m in gateway.sms.sent if m.to == "254711000103"] == []
    gateway.sms.up()
    texts = await gateway.sms_to("+254711000103", wait=30)
    assert TOKEN_RE.findall(texts[0]) == TOKEN_RE.findall(final.text)
    await asyncio.sleep(0.5)
    assert len([m for m in gateway.sms.sent if m.to == "254711000103"]) == 1


async def test_dropped_session_resumes_where_it_stopped(gateway: LiveGateway) -> None:
    """A session dropped on the amount screen resumes there when the phone dials again.

    The new session shows "Welcome back." and the amount screen; the purchase completes.
    """
    first = simulator("africastalking", gateway.http, gateway.base_url, msisdn="+254711000104")
    await first.dial()
    await first.send("1")
    await first.send(METER.number)
    amount_screen = await first.send("1")
    assert "Enter the amount" in amount_screen.text
    second = simulator("africastalking", gateway.http, gateway.base_url, msisdn="+254711000104")
    resumed = await second.dial()
    assert resumed.text.startswith("Welcome back.\nEnter the amount"), resumed.text
    await second.send("100")
    final = await second.send("1")
    assert len(TOKEN_RE.findall(final.text)) == 1
    assert await vends_of(gateway, METER.number) == 1
