"""End to end over real HTTP: customers buy and ask by SMS through Africa's Talking callbacks.

Each test posts inbound messages to ``/sms/africastalking/inbound`` as Africa's Talking does
(form fields ``from``, ``to``, ``text``, ``date``, ``id``) and reads the replies the outbox
sent through the memory SMS sender.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime

from gateway import keys
from gateway.app import agent_salt, voucher_salt
from tests.e2e.conftest import TOKEN_RE, LiveGateway
from vending_core.adapters.payments_voucher import create_vouchers
from vending_core.service import vending
from vending_core.service.agents import register_agent
from vending_core.service.demo_data import DEMO_METERS

METER = DEMO_METERS[5]  # BUS-FLAT, no Free Basic Electricity: one token per sale
_IDS = itertools.count(1)
UNITS_RE = re.compile(r"(\d+)\.(\d) units")


async def mo(gateway: LiveGateway, msisdn: str, text: str, message_id: str | None = None) -> int:
    """Post one inbound SMS; the HTTP status."""
    form = {
        "from": msisdn,
        "to": "20880",
        "text": text,
        "date": "2026-11-25 10:00:00",
        "id": message_id or f"ATXid_{next(_IDS)}",
    }
    async with gateway.http.post(f"{gateway.base_url}/sms/africastalking/inbound", data=form) as r:
        return r.status


async def test_buy_by_sms_replies_then_sends_a_token_that_loads_its_units(
    gateway: LiveGateway,
) -> None:
    """BUY <meter> 100: an "approve" reply, then the token SMS loading the units it states."""
    assert await mo(gateway, "+254722000001", f"buy {METER.number} 100") == 200
    first, token_sms = await gateway.sms_to("+254722000001", count=2)
    assert first.startswith("Approve the payment of 100 for meter")
    (token,) = TOKEN_RE.findall(token_sms)
    units = UNITS_RE.search(token_sms)
    assert units is not None
    meter = METER.reference_meter()
    meter.enter(token.replace(" ", ""))
    assert meter.credit_tenths() == int(units[1]) * 10 + int(units[2])


async def test_redelivered_message_gets_one_reply_and_one_purchase(gateway: LiveGateway) -> None:
    """The same BUY delivered five times (same id, two at once): one reply, one purchase.

    One approve reply and one token SMS, one vend.
    """
    statuses = await asyncio.gather(
        *(mo(gateway, "+254722000002", f"BUY {METER.number} 50", "ATXid_same") for _ in range(2))
    )
    statuses += [
        await mo(gateway, "+254722000002", f"BUY {METER.number} 50", "ATXid_same") for _ in range(3)
    ]
    assert statuses == [200] * 5
    await gateway.sms_to("+254722000002", count=2)
    await asyncio.sleep(0.5)
    texts = [m.text for m in gateway.sms.sent if m.to == "254722000002"]
    assert len(texts) == 2
    core = gateway.app[keys.PURCHASES].core
    assert len(await vending.reprint(core, METER.number, limit=10)) == 1


async def test_help_unknown_and_malformed_commands_get_a_short_answer(gateway: LiveGateway) -> None:
    """HELP lists the commands; gibberish and a bad meter number say what is wrong."""
    await mo(gateway, "+254722000003", "help")
    await mo(gateway, "+254722000003", "hello there")
    await mo(gateway, "+254722000003", "BUY 123 100")
    help_text, unknown, bad_meter = await gateway.sms_to("+254722000003", count=3)
    assert help_text.startswith("Send: BUY <meter> <amount>")
    assert unknown == "Sorry, we did not understand. Send HELP for the commands."
    assert bad_meter == "A meter number has 11 or 13 digits. Send: BUY <meter> <amount>"


async def test_language_then_balance_in_french(gateway: LiveGateway) -> None:
    """LANG fr switches the replies to French; BAL answers in French."""
    await mo(gateway, "+254722000004", "LANG fr")
    await gateway.sms_to("+254722000004", count=1)
    await mo(gateway, "+254722000004", f"solde {METER.number}")
    lang, balance = await gateway.sms_to("+254722000004", count=2)
    assert lang == "Langue : français."
    assert balance.startswith(f"Compteur {METER.number} : dû ")


async def test_token_resends_the_last_token_without_a_new_vend(gateway: LiveGateway) -> None:
    """After a purchase, TOKEN <meter> sends the same token again; still one vend."""
    await mo(gateway, "+254722000005", f"BUY {METER.number} 100")
    _, token_sms = await gateway.sms_to("+254722000005", count=2)
    await mo(gateway, "+254722000005", f"TOKEN {METER.number}")
    *_, resent = await gateway.sms_to("+254722000005", count=3)
    assert TOKEN_RE.findall(resent) == TOKEN_RE.findall(token_sms)
    core = gateway.app[keys.PURCHASES].core
    assert len(await vending.reprint(core, METER.number, limit=10)) == 1


async def test_voucher_pays_once(gateway: LiveGateway) -> None:
    """A scratch card of 100.00 buys a token once; the same PIN again is refused."""
    core = gateway.app[keys.PURCHASES].core
    settings = gateway.app[keys.SETTINGS]
    ((_, pin),) = await create_vouchers(
        core.uow, "B1", 1, 10_000, voucher_salt(settings), datetime.now(UTC)
    )
    await mo(gateway, "+254722000006", f"VOUCHER {pin} {METER.number}")
    (token_sms,) = await gateway.sms_to("+254722000006", count=1)
    assert len(TOKEN_RE.findall(token_sms)) == 1
    await mo(gateway, "+254722000006", f"VOUCHER {pin} {METER.number}")
    _, refused = await gateway.sms_to("+254722000006", count=2)
    assert refused == "This voucher was already used."
    assert len(await vending.reprint(core, METER.number, limit=10)) == 1


async def test_a_phone_over_its_limit_is_told_once_then_ignored(gateway: LiveGateway) -> None:
    """Ten messages a minute are answered; the eleventh gets "slow down"; later ones nothing."""
    for _ in range(13):
        assert await mo(gateway, "+254722000007", "HELP") == 200
    texts = await gateway.sms_to("+254722000007", count=11)
    await asyncio.sleep(0.3)
    texts = [m.text for m in gateway.sms.sent if m.to == "254722000007"]
    assert len(texts) == 11
    assert texts[-1] == "Too many messages. Please wait a few minutes."


async def test_agent_sells_from_the_float_and_gets_the_token_in_the_reply(
    gateway: LiveGateway,
) -> None:
    """An agent's BUY with its PIN sells at once from DEMO-POS's float: the reply is the token.

    A wrong PIN gets "wrong PIN" and sells nothing; a stranger's PIN BUY is told agent sales
    are not open for the number.
    """
    core = gateway.app[keys.PURCHASES].core
    await register_agent(
        core,
        "+254733000001",
        "DEMO-POS",
        "Corner shop",
        "4826",
        agent_salt(gateway.app[keys.SETTINGS]),
    )
    await mo(gateway, "+254733000001", f"BUY {METER.number} 100 4826")
    (reply,) = await gateway.sms_to("+254733000001", count=1)
    (token,) = TOKEN_RE.findall(reply)
    units = UNITS_RE.search(reply)
    assert units is not None
    meter = METER.reference_meter()
    meter.enter(token.replace(" ", ""))
    assert meter.credit_tenths() == int(units[1]) * 10 + int(units[2])
    await mo(gateway, "+254733000001", f"BUY {METER.number} 100 4827")
    _, wrong = await gateway.sms_to("+254733000001", count=2)
    assert wrong == "Wrong agent PIN."
    await mo(gateway, "+254733000002", f"BUY {METER.number} 100 4826")
    (stranger,) = await gateway.sms_to("+254733000002", count=1)
    assert stranger == "Agent sales by SMS are not open for your number."
    assert len(await vending.reprint(core, METER.number, limit=10)) == 1


async def test_inbound_without_id_or_sender_is_400(gateway: LiveGateway) -> None:
    """An inbound callback missing ``id`` or ``from`` is refused; nothing is sent."""
    url = f"{gateway.base_url}/sms/africastalking/inbound"
    for form in ({"from": "+254722000008", "text": "HELP"}, {"id": "x1", "text": "HELP"}):
        async with gateway.http.post(url, data=form) as response:
            assert response.status == 400
    assert [m for m in gateway.sms.sent if m.to == "254722000008"] == []
