"""End to end over real HTTP: callback protection per provider (shared secret, IP allow-list).

``GatewaySettings.callbacks`` maps a provider to a :class:`CallbackGuard`. A guarded route
answers 403 unless the secret comes as the ``X-Callback-Token`` header or the ``token`` query
parameter and the caller's address is in an allowed network (config/gateway.py docstring).
Everything here runs on 127.0.0.1, so an allow-list of 10.0.0.0/8 refuses every request.
"""

from __future__ import annotations

import asyncio
from ipaddress import ip_network
from urllib.parse import urlencode

from config.gateway import CallbackGuard
from gateway import keys
from gateway.simulate import simulator
from tests.e2e.conftest import TOKEN_RE, GatewayFactory, LiveGateway, eventually
from tests.support.fake_daraja import FakeDaraja, Script
from vending_core.service import vending
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[3]  # no Free Basic Electricity: one token per sale
SECRET = "s3cret"
FORM = "application/x-www-form-urlencoded"
TEN_NET = CallbackGuard(networks=(ip_network("10.0.0.0/8"),))


async def post(
    gateway: LiveGateway, path: str, body: bytes, content_type: str, **headers: str
) -> tuple[int, str]:
    """POST raw bytes with extra headers; the status and body text."""
    sent = {"Content-Type": content_type, **headers}
    async with gateway.http.post(gateway.base_url + path, data=body, headers=sent) as response:
        return response.status, (await response.read()).decode("utf-8", "replace")


def at_dial(session_id: str, msisdn: str) -> bytes:
    """Africa's Talking's first hop of a session (empty ``text``), as a form body."""
    form = {
        "sessionId": session_id,
        "phoneNumber": msisdn,
        "serviceCode": "*384*12#",
        "networkCode": "63902",
        "text": "",
    }
    return urlencode(form).encode()


async def vends_of(gateway: LiveGateway, meter: str) -> int:
    """How many vends the meter has in the database."""
    core = gateway.app[keys.PURCHASES].core
    return len(await vending.reprint(core, meter, limit=100))


async def test_ussd_hop_without_the_secret_is_403(start_gateway: GatewayFactory) -> None:
    """Africa's Talking guarded by a secret: a hop without it, or with a wrong one, is 403."""
    gateway = await start_gateway(callbacks={"africastalking": CallbackGuard(secret=SECRET)})
    bare = simulator("africastalking", gateway.http, gateway.base_url, msisdn="+254711600001")
    assert (await bare.dial()).status == 403
    wrong = simulator(
        "africastalking", gateway.http, gateway.base_url, msisdn="+254711600001", query="?token=x"
    )
    assert (await wrong.dial()).status == 403
    body = at_dial("AT-H-1", "+254711600001")
    headers = {"X-Callback-Token": "s3cre"}
    status, _ = await post(gateway, "/ussd/africastalking", body, FORM, **headers)
    assert status == 403


async def test_ussd_purchase_with_the_secret_in_the_query_works(
    start_gateway: GatewayFactory,
) -> None:
    """With ``?token=s3cret`` on every hop, a whole purchase completes: token on screen."""
    gateway = await start_gateway(callbacks={"africastalking": CallbackGuard(secret=SECRET)})
    session = simulator(
        "africastalking",
        gateway.http,
        gateway.base_url,
        msisdn="+254711600002",
        query=f"?token={SECRET}",
    )
    assert not (await session.dial()).end
    for text in ("1", METER.number, "1", "100"):
        screen = await session.send(text)
        assert screen.status == 200
        assert not screen.end, screen.text
    final = await session.send("1")
    assert final.end
    assert len(TOKEN_RE.findall(final.text)) == 1
    assert await vends_of(gateway, METER.number) == 1


async def test_ussd_hop_with_the_secret_header_works(start_gateway: GatewayFactory) -> None:
    """The secret as the X-Callback-Token header opens the main menu (a CON screen)."""
    gateway = await start_gateway(callbacks={"africastalking": CallbackGuard(secret=SECRET)})
    body = at_dial("AT-H-2", "+254711600003")
    status, text = await post(
        gateway, "/ussd/africastalking", body, FORM, **{"X-Callback-Token": SECRET}
    )
    assert status == 200
    assert text.startswith("CON "), text


async def test_guard_is_per_provider(start_gateway: GatewayFactory) -> None:
    """A guard on Africa's Talking leaves Hubtel open: its hop gets a screen, not a 403."""
    gateway = await start_gateway(callbacks={"africastalking": CallbackGuard(secret=SECRET)})
    session = simulator("hubtel", gateway.http, gateway.base_url, msisdn="+233200600004")
    screen = await session.dial()
    assert screen.status == 200
    assert not screen.end


async def test_ip_allow_list_refuses_other_addresses(start_gateway: GatewayFactory) -> None:
    """Africa's Talking allowed only from 10.0.0.0/8: a hop from 127.0.0.1 is 403.

    The right secret does not help when the address is not allowed.
    """
    guard = CallbackGuard(secret=SECRET, networks=(ip_network("10.0.0.0/8"),))
    gateway = await start_gateway(callbacks={"africastalking": guard})
    session = simulator(
        "africastalking",
        gateway.http,
        gateway.base_url,
        msisdn="+254711600005",
        query=f"?token={SECRET}",
    )
    assert (await session.dial()).status == 403


async def test_ip_allow_list_lets_allowed_addresses_in(start_gateway: GatewayFactory) -> None:
    """Africa's Talking allowed from 127.0.0.0/8: a hop from 127.0.0.1 gets its screen."""
    guard = CallbackGuard(networks=(ip_network("127.0.0.0/8"),))
    gateway = await start_gateway(callbacks={"africastalking": guard})
    session = simulator("africastalking", gateway.http, gateway.base_url, msisdn="+254711600006")
    screen = await session.dial()
    assert screen.status == 200
    assert not screen.end


async def test_session_events_and_delivery_reports_are_guarded(
    start_gateway: GatewayFactory,
) -> None:
    """Africa's Talking's end-of-session and delivery-report routes use the same guard.

    Without the secret: 403; with it (header or query): the route answers 200 "OK".
    """
    gateway = await start_gateway(callbacks={"africastalking": CallbackGuard(secret=SECRET)})
    ended = urlencode({"sessionId": "AT-H-7", "status": "Success"}).encode()
    report = urlencode({"id": "ATXid_unknown", "status": "Success"}).encode()
    routes = (("/ussd/africastalking/events", ended), ("/sms/africastalking/delivery", report))
    for path, body in routes:
        assert (await post(gateway, path, body, FORM))[0] == 403
        assert (await post(gateway, path, body, FORM, **{"X-Callback-Token": SECRET})) == (
            200,
            "OK",
        )
        assert (await post(gateway, f"{path}?token={SECRET}", body, FORM)) == (200, "OK")


async def test_delivery_report_from_outside_the_allow_list_is_403(
    start_gateway: GatewayFactory,
) -> None:
    """Africa's Talking allowed only from 10.0.0.0/8: its delivery report from here is 403."""
    gateway = await start_gateway(callbacks={"africastalking": TEN_NET})
    report = urlencode({"id": "ATXid_unknown", "status": "Success"}).encode()
    assert (await post(gateway, "/sms/africastalking/delivery", report, FORM))[0] == 403


async def test_sandbox_payment_callback_is_guarded(start_gateway: GatewayFactory) -> None:
    """The sandbox's callback route with a secret: 403 without it, past the guard with it.

    Past the guard, an empty JSON object is not a sandbox callback: 400 (not 403).
    """
    gateway = await start_gateway(callbacks={"sandbox": CallbackGuard(secret=SECRET)})
    path = "/payments/sandbox/callback"
    assert (await post(gateway, path, b"{}", "application/json"))[0] == 403
    headers = {"X-Callback-Token": SECRET}
    assert (await post(gateway, path, b"{}", "application/json", **headers))[0] == 400


async def mpesa_pay_screen(gateway: LiveGateway, msisdn: str) -> None:
    """Walk a USSD purchase of 100 on METER to its final "approve the payment" screen."""
    session = simulator("africastalking", gateway.http, gateway.base_url, msisdn=msisdn)
    await session.dial()
    for text in ("1", METER.number, "1", "100"):
        assert not (await session.send(text)).end
    final = await session.send("1")
    assert "Approve the payment" in final.text, final.text


async def test_mpesa_callback_with_the_secret_in_its_url_sells(
    start_mpesa_gateway: GatewayFactory,
) -> None:
    """M-Pesa guarded by a secret, the callback URL given to Daraja carries ``?token=``.

    Daraja's own callback passes the guard: one vend, one token SMS.
    """
    gateway = await start_mpesa_gateway(
        callback_query=f"?token={SECRET}", callbacks={"mpesa": CallbackGuard(secret=SECRET)}
    )
    await mpesa_pay_screen(gateway, "+254711600010")
    (sms,) = await gateway.sms_to("+254711600010")
    assert len(TOKEN_RE.findall(sms)) == 1
    assert await vends_of(gateway, METER.number) == 1


async def test_forged_mpesa_callback_without_the_secret_sells_nothing(
    start_mpesa_gateway: GatewayFactory, fake_daraja: FakeDaraja
) -> None:
    """A well-formed PAID callback without the secret is 403 and sells nothing.

    The fake keeps quiet (NEVER) and the test plays Daraja: the same body with the header
    then gets Daraja's acknowledgement and makes the one vend.
    """
    gateway = await start_mpesa_gateway(callbacks={"mpesa": CallbackGuard(secret=SECRET)})
    fake_daraja.scripts_by_phone["254711600011"] = Script.NEVER
    await mpesa_pay_screen(gateway, "+254711600011")
    body = fake_daraja.callback_body(fake_daraja.pushes[0])
    url = f"{gateway.base_url}/payments/mpesa/callback"
    async with gateway.http.post(url, json=body) as forged:
        assert forged.status == 403
    await asyncio.sleep(0.3)
    assert await vends_of(gateway, METER.number) == 0
    async with gateway.http.post(url, json=body, headers={"X-Callback-Token": SECRET}) as real:
        assert real.status == 200
        assert await real.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    await gateway.sms_to("+254711600011")
    assert await vends_of(gateway, METER.number) == 1


async def test_mpesa_callback_from_outside_the_allow_list_sells_nothing(
    start_mpesa_gateway: GatewayFactory, fake_daraja: FakeDaraja
) -> None:
    """M-Pesa allowed only from 10.0.0.0/8: Daraja's callback from 127.0.0.1 is 403, no vend."""
    gateway = await start_mpesa_gateway(callbacks={"mpesa": TEN_NET})
    await mpesa_pay_screen(gateway, "+254711600012")
    await eventually(lambda: bool(fake_daraja.pushes[0].callbacks))
    body = fake_daraja.callback_body(fake_daraja.pushes[0])
    async with gateway.http.post(f"{gateway.base_url}/payments/mpesa/callback", json=body) as r:
        assert r.status == 403
    await asyncio.sleep(0.3)  # the fake's own callback has been answered by now
    assert [m for m in gateway.sms.sent if m.to == "254711600012"] == []
    assert await vends_of(gateway, METER.number) == 0
