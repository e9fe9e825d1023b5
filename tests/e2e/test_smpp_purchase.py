"""End to end over SMPP: the smpp34 server is the operator's SMSC, the gateway its ESME.

The gateway runs with the production wiring for SMPP (``VENDGATE_SMS_SENDER=smpp``, one bind
in ``VENDGATE_SMPP_BINDS`` to the peer subprocess on 127.0.0.1): customers' messages arrive
as ``deliver_sm`` from the peer, every reply and token leaves as ``submit_sm`` through the
outbox, and the tests read what the peer received from its event log (both lifetimes when
it is killed and restarted).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from gateway import keys
from gateway.sms_service import SmsService
from tests.e2e.conftest import TOKEN_RE, SmppGateway, SmppGatewayFactory, gsm7_text
from vending_core.service import outbox, vending
from vending_core.service.demo_data import DEMO_METERS, DemoMeter
from vending_core.service.messaging_records import OutboxMessage, OutboxStatus

METER = DEMO_METERS[7]  # RES-BLOCK on DKGA04, no Free Basic Electricity: one token per sale
BUY_METERS = [m for m in DEMO_METERS if not m.fbe]  # the kill test's purchases rotate over these
UNITS_RE = re.compile(r"(\d+)\.(\d) units")
CUSTOMER = "254711000001"
TLV_RECEIPTED_MESSAGE_ID = 0x001E  # SMPP 3.4 §5.3.2.12
TLV_MESSAGE_STATE = 0x0427  # SMPP 3.4 §5.3.2.35; 2 = DELIVERED (§5.2.28)


async def _outbox_row(sms: SmsService, key: str) -> OutboxMessage | None:
    async with sms.core.uow() as uow:
        return await uow.outbox.get_by_key(key)


async def _row_status(gw: SmppGateway, key: str, status: OutboxStatus) -> OutboxMessage:
    """The outbox row ``key`` once it has ``status`` (fails after 8 s)."""
    async with asyncio.timeout(8.0):
        while True:
            row = await _outbox_row(gw.app[keys.SMS], key)
            if row is not None and row.status is status:
                return row
            await asyncio.sleep(0.05)


def _credit_tenths(token_sms: str) -> int:
    """The units the token SMS states, in tenths of a kWh (``12.3 units`` -> 123)."""
    units = UNITS_RE.search(token_sms)
    assert units is not None, token_sms
    return int(units[1]) * 10 + int(units[2])


async def test_buy_over_smpp_ends_with_a_token_the_meter_accepts_and_a_delivered_receipt(
    start_smpp_gateway: SmppGatewayFactory,
) -> None:
    """A customer's BUY over SMPP against the real peer.

    The MO ``BUY <meter> 100`` (deliver_sm) gets the "Approve the payment..." submit_sm; the
    sandbox pays; the token submit_sm's token loads, on the STS reference meter, exactly the
    units the SMS states. The token row is ``sent`` under ``<bind>:<SMSC id>``, and the peer's
    receipt for that id (stat DELIVRD, message_state 2) marks it ``delivered``.
    """
    assert not METER.fbe
    gw = await start_smpp_gateway()  # no automatic receipts: the test sends the receipt
    await gw.mo(CUSTOMER, f"BUY {METER.number} 100")
    approve, token_sms = await gw.wait_texts(CUSTOMER, 2)
    assert approve.startswith(f"Approve the payment of 100 for meter {METER.number}")
    (token,) = TOKEN_RE.findall(token_sms)
    meter = METER.reference_meter()
    meter.enter(token.replace(" ", ""))
    assert meter.credit_tenths() == _credit_tenths(token_sms)

    (vend,) = await vending.reprint(gw.app[keys.PURCHASES].core, METER.number, limit=10)
    key = outbox.token_sms_key(vend.vend_id)
    sent = await _row_status(gw, key, OutboxStatus.SENT)
    (submit,) = [
        s for s in gw.peer.submits() if TOKEN_RE.search(gsm7_text(bytes.fromhex(s["hex"])))
    ]
    smsc_id: str = submit["message_id"]
    assert sent.provider_message_id == f"mno1:{smsc_id.lower()}"

    receipt = f"id:{smsc_id} sub:001 dlvrd:001 stat:DELIVRD err:000 text:".encode()
    tlvs = [[TLV_RECEIPTED_MESSAGE_ID, (smsc_id + "\0").encode().hex()], [TLV_MESSAGE_STATE, "02"]]
    await gw.peer.deliver(CUSTOMER, submit["source"], receipt, esm_class=0x04, tlvs=tlvs)
    delivered = await _row_status(gw, key, OutboxStatus.DELIVERED)
    assert delivered.provider_status == "DELIVRD"
    assert delivered.delivered_at is not None


def _traffic(first: int, count: int) -> list[tuple[str, str, DemoMeter | None]]:
    """``count`` MOs from distinct numbers: HELP, BAL and BUY in turn (phone, text, meter)."""
    messages: list[tuple[str, str, DemoMeter | None]] = []
    for n in range(first, first + count):
        phone = f"2547120{n:05d}"
        bought = BUY_METERS[n % len(BUY_METERS)]
        kind = n % 3
        if kind == 0:
            messages.append((phone, "HELP", None))
        elif kind == 1:
            messages.append((phone, f"BAL {DEMO_METERS[0].number}", None))
        else:
            messages.append((phone, f"BUY {bought.number} 100", bought))
    return messages


def _kinds(texts: list[str]) -> Counter[str]:
    """Each text by kind: help, balance, approve (the BUY reply) or token."""
    kinds: Counter[str] = Counter()
    for text in texts:
        if text.startswith("Send: BUY"):
            kinds["help"] += 1
        elif text.startswith(f"Meter {DEMO_METERS[0].number}: owing"):
            kinds["balance"] += 1
        elif text.startswith("Approve the payment of 100"):
            kinds["approve"] += 1
        elif TOKEN_RE.search(text):
            kinds["token"] += 1
        else:
            kinds[text] += 1  # anything unexpected shows up by its text
    return kinds


async def _drained(gw: SmppGateway, expected: dict[str, Counter[str]]) -> None:
    """Every expected text reached the peer and no token row is queued or sending."""
    waiting = {OutboxStatus.QUEUED, OutboxStatus.SENDING}
    async with asyncio.timeout(15.0):
        while True:
            arrived = all(_kinds(gw.texts_to(phone)) >= kinds for phone, kinds in expected.items())
            if arrived:
                rows = [await _outbox_row(gw.app[keys.SMS], k) for k in await _keys(gw)]
                if all(r is not None and r.status not in waiting for r in rows):
                    return
            await asyncio.sleep(0.1)


async def _responses_recorded(gw: SmppGateway) -> None:
    """Wait until every submit the peer accepted has its outbox row under its SMSC id."""
    sms = gw.app[keys.SMS]
    async with asyncio.timeout(8.0):
        for submit in gw.peer.submits():
            provider_id = f"mno1:{submit['message_id'].lower()}"
            while True:
                async with sms.core.uow() as uow:
                    row = await uow.outbox.get_by_provider_id("smpp", provider_id)
                if row is not None:
                    break
                await asyncio.sleep(0.02)


async def _keys(gw: SmppGateway) -> list[str]:
    """The outbox keys of every token SMS (one per vend of the demo meters)."""
    core = gw.app[keys.PURCHASES].core
    found: list[str] = []
    for meter in BUY_METERS:
        found += [
            outbox.token_sms_key(v.vend_id)
            for v in await vending.reprint(core, meter.number, limit=50)
        ]
    return found


async def test_killing_the_smsc_mid_traffic_loses_and_duplicates_nothing(
    start_smpp_gateway: SmppGatewayFactory,
) -> None:
    """Kill the peer mid-traffic and restart it on the same port.

    30 MOs from distinct numbers (HELP, BAL, BUY in turn): 15 delivered and answered, the peer
    SIGKILLed while their five purchases are being paid (the sandbox pays 1.5 s after each
    BUY, so those tokens fall due while the SMSC is down), restarted on the same port, the
    other 15 delivered. Across both peer lifetimes every accepted MO got exactly one reply,
    every paid BUY exactly one token SMS, and the database holds one vend per BUY.

    The kill waits until every submit_sm the peer accepted has its response recorded in the
    outbox: a submit the SMSC accepts and dies before answering is unknowable to an ESME (SMPP
    3.4 has no idempotency key) and is sent again after the restart (at least once).
    """
    gw = await start_smpp_gateway("--auto-receipt", "DELIVRD", sandbox_delay=1.5)
    traffic = _traffic(1, 30)
    await asyncio.gather(*(gw.mo(phone, text) for phone, text, _ in traffic[:15]))
    first_replies = {phone: 1 for phone, _, _ in traffic[:15]}
    await gw.peer.wait_for(
        lambda: all(len(gw.texts_to(p)) >= n for p, n in first_replies.items()), within=8.0
    )
    await _responses_recorded(gw)
    await gw.peer.kill()
    buyers_before = [phone for phone, _, meter in traffic[:15] if meter is not None]
    assert not any(_kinds(gw.texts_to(p))["token"] for p in buyers_before)  # tokens were due
    await asyncio.sleep(2.0)  # the link is down: tokens fall due, the outbox retries them
    await gw.peer.start()
    await asyncio.gather(*(gw.mo(phone, text) for phone, text, _ in traffic[15:]))

    expected = {
        phone: Counter(
            {"approve": 1, "token": 1}
            if meter is not None
            else {"help" if text == "HELP" else "balance": 1}
        )
        for phone, text, meter in traffic
    }
    await _drained(gw, expected)
    await asyncio.sleep(0.5)  # anything sent twice would show up now
    assert {phone: _kinds(gw.texts_to(phone)) for phone, _, _ in traffic} == expected
    token_rows = [await _outbox_row(gw.app[keys.SMS], key) for key in await _keys(gw)]
    assert len(token_rows) == sum(meter is not None for _, _, meter in traffic) == 10
    # the first half's tokens were paid while the SMSC was down: tried then, sent after it
    assert all(r.attempts >= 2 for r in token_rows if r and r.msisdn in buyers_before)
