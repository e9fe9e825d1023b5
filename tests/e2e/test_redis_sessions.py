"""End to end over real HTTP: two gateway replicas sharing Redis sessions and one database.

Two gateways (two servers on one SQLite file, ``redis_url`` set, so the sessions and their
locks live in Redis) stand for replicas behind a load balancer: a session's hops may land on
either, and copies of one hop may reach both at once. Each ends with exactly one vend.

Other tests use the same Redis at the same time and the gateway does not expose the session
store's key prefix, so every session here has a random session id and a random phone number
(the store's keys are ``<provider>:<session id>`` and ``resume:<msisdn>``); nothing is flushed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets

from gateway import keys
from gateway.simulate import UssdSession, simulator
from sts import MeterResult
from tests.e2e.conftest import TOKEN_RE, GatewayFactory, LiveGateway, eventually
from vending_core.service import vending
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[3]  # no Free Basic Electricity: one token per sale
QUOTE_RE = re.compile(r"^100 buys (\d+)\.(\d) kWh", re.MULTILINE)


def unique_session(provider: str, gateway: LiveGateway) -> UssdSession:
    """A session with a random id and phone (+2547119 and six random digits)."""
    msisdn = f"+2547119{secrets.randbelow(10**5):05d}"
    session_id = f"h5-redis-{secrets.token_hex(8)}"
    return simulator(provider, gateway.http, gateway.base_url, msisdn=msisdn, session_id=session_id)


async def replicas(start_gateway: GatewayFactory, redis_url: str) -> tuple[LiveGateway, ...]:
    """Two gateways on the test's SQLite file and the same Redis (started one by one)."""
    first = await start_gateway(redis_url=redis_url)
    second = await start_gateway(redis_url=redis_url)
    return first, second


async def vends_of(gateway: LiveGateway, meter: str) -> int:
    """How many vends the meter has in the (shared) database."""
    core = gateway.app[keys.PURCHASES].core
    return len(await vending.reprint(core, meter, limit=100))


def sms_to(gateways: tuple[LiveGateway, ...], msisdn: str) -> list[str]:
    """Texts sent to ``msisdn`` by any replica's SMS sender (their outbox is shared)."""
    digits = msisdn.removeprefix("+")
    return [m.text for g in gateways for m in g.sms.sent if m.to == digits]


async def test_hops_alternating_between_replicas_complete_one_purchase(
    start_gateway: GatewayFactory, redis_url: str
) -> None:
    """Each hop of a purchase goes to the other replica: the menu carries on, one vend.

    The token on the final screen loads exactly the quoted units; one SMS carries it.
    """
    gateways = await replicas(start_gateway, redis_url)
    session = unique_session("africastalking", gateways[0])
    screens = []
    for hop, text in enumerate((None, "1", METER.number, "1", "100", "1")):
        session.base_url = gateways[hop % 2].base_url
        screens.append(await (session.dial() if text is None else session.send(text)))
    assert "Choose a meter" in screens[1].text
    assert METER.customer in screens[2].text
    assert "Enter the amount" in screens[3].text
    match = QUOTE_RE.search(screens[4].text)
    assert match is not None, screens[4].text
    final = screens[5]
    assert final.end
    (token,) = TOKEN_RE.findall(final.text)
    meter = METER.reference_meter()
    assert meter.enter(token.replace(" ", "")).result is MeterResult.ACCEPT
    assert meter.credit_tenths() == int(match[1]) * 10 + int(match[2])
    await eventually(lambda: bool(sms_to(gateways, session.msisdn)))
    await asyncio.sleep(0.5)  # both dispatchers poll every 0.1 s: a second copy would be out
    (sms,) = sms_to(gateways, session.msisdn)
    assert TOKEN_RE.findall(sms) == [token]
    assert await vends_of(gateways[1], METER.number) == 1


async def test_concurrent_pay_hops_on_both_replicas_vend_once(
    start_gateway: GatewayFactory, redis_url: str
) -> None:
    """Three copies of the pay hop reach each replica at once: one vend, six identical screens.

    The Redis lock runs them one after the other across processes; the first pays and the
    others get its stored reply.
    """
    gateways = await replicas(start_gateway, redis_url)
    session = unique_session("hubtel", gateways[0])
    await session.dial()
    for hop, text in enumerate(("1", METER.number, "1", "100")):
        session.base_url = gateways[hop % 2].base_url
        assert not (await session.send(text)).end
    session.inputs.append("1")
    request = session._request(new=False, latest="1")
    copies = [dataclasses.replace(session, base_url=g.base_url) for g in gateways]
    screens = await asyncio.gather(*(c._send_raw(*request) for c in copies for _ in range(3)))
    assert {s.status for s in screens} == {200}
    assert len({s.text for s in screens}) == 1
    assert screens[0].end
    assert len(TOKEN_RE.findall(screens[0].text)) == 1
    await asyncio.sleep(0.5)  # both dispatchers poll every 0.1 s
    assert len(sms_to(gateways, session.msisdn)) == 1
    assert await vends_of(gateways[0], METER.number) == 1
