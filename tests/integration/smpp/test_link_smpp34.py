"""SmppLink against the independent smpp34 1.5.0 server (a subprocess on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from smpp.client import SmppLink
from smpp.models import InboundMessage, LinkState
from tests.support.smpp34_peer import REFUSED_PREFIX, Smpp34Peer, free_port
from vending_core.service.sms_ports import DeliveryReport, OutboundSms

PHONE = "254712345678"
ARABIC = "ب"  # U+0628
LinkFactory = Callable[..., SmppLink]


def _sms(text: str, to: str = PHONE) -> OutboundSms:
    return OutboundSms(to=to, text=text, reference="ref")


async def _bound(make_link: LinkFactory, peer: Smpp34Peer) -> SmppLink:
    link = make_link(peer.port)
    assert await link.wait_bound(3.0)
    return link


def _reports(link: SmppLink) -> list[DeliveryReport]:
    reports: list[DeliveryReport] = []

    async def on_receipt(report: DeliveryReport) -> None:
        reports.append(report)

    link.on_receipt = on_receipt
    return reports


async def test_bind_submit_and_tlv_receipt(smpp34_peer: Smpp34Peer, make_link: LinkFactory) -> None:
    """Bind, submit, and the peer's receipt (receipted_message_id + message_state 2).

    The receipt reaches on_receipt as DELIVRD under the id submit() returned.
    """
    link = await _bound(make_link, smpp34_peer)
    reports = _reports(link)
    outcome = await link.submit(_sms("Token 1234-5678-9012-3456-7890"))
    assert outcome.accepted
    await smpp34_peer.wait_for(lambda: len(smpp34_peer.submits()) == 1)
    submit = smpp34_peer.submits()[0]
    assert outcome.provider_message_id == "test:" + submit["message_id"].lower()
    assert (submit["to"], submit["data_coding"], submit["esm_class"]) == (PHONE, 0, 0)
    assert bytes.fromhex(submit["hex"]) == b"Token 1234-5678-9012-3456-7890"
    await smpp34_peer.wait_for(lambda: len(reports) == 1)
    assert (reports[0].provider_message_id, reports[0].status) == (
        outcome.provider_message_id,
        "DELIVRD",
    )
    assert smpp34_peer.events[0] == {"event": "bind", "system_id": "vendgate"}


async def test_refused_destination_is_permanent(
    smpp34_peer: Smpp34Peer, make_link: LinkFactory
) -> None:
    """The peer rejects the refused range with ESME_RINVDSTADR 0x0B: refused, not retried."""
    link = await _bound(make_link, smpp34_peer)
    outcome = await link.submit(_sms("x", to=REFUSED_PREFIX + "01"))
    assert (outcome.accepted, outcome.retryable, outcome.status) == (
        False,
        False,
        "ESME_RINVDSTADR",
    )


async def test_long_gsm7_message_arrives_in_153_septet_parts(
    smpp34_peer: Smpp34Peer, make_link: LinkFactory
) -> None:
    """320 GSM-7 characters.

    3 parts of 153 + 153 + 14 septets, UDH 05 00 03 ref 03 n, esm_class 0x40, data_coding 0; the
    peer's parts join back to the text.
    """
    link = await _bound(make_link, smpp34_peer)
    text = "".join(chr(ord("a") + i % 26) for i in range(320))
    assert (await link.submit(_sms(text))).accepted
    await smpp34_peer.wait_for(lambda: len(smpp34_peer.submits()) == 3)
    parts = [bytes.fromhex(s["hex"]) for s in smpp34_peer.submits()]
    assert [len(p) - 6 for p in parts] == [153, 153, 14]
    assert [p[:3] for p in parts] == [bytes([5, 0, 3])] * 3
    assert len({p[3] for p in parts}) == 1  # one reference
    assert [(p[4], p[5]) for p in parts] == [(3, 1), (3, 2), (3, 3)]
    assert all((s["esm_class"], s["data_coding"]) == (0x40, 0) for s in smpp34_peer.submits())
    assert b"".join(p[6:] for p in parts).decode() == text


async def test_long_arabic_message_arrives_in_67_character_ucs2_parts(
    smpp34_peer: Smpp34Peer, make_link: LinkFactory
) -> None:
    """140 Arabic characters.

    Parts of 67 + 67 + 6 characters (134 + 134 + 12 octets), data_coding 8, UTF-16BE; no part
    exceeds 140 octets with its UDH.
    """
    link = await _bound(make_link, smpp34_peer)
    text = (ARABIC + "ت") * 70
    assert (await link.submit(_sms(text))).accepted
    await smpp34_peer.wait_for(lambda: len(smpp34_peer.submits()) == 3)
    parts = [bytes.fromhex(s["hex"]) for s in smpp34_peer.submits()]
    assert [len(p) for p in parts] == [140, 140, 18]
    assert all(s["data_coding"] == 8 for s in smpp34_peer.submits())
    assert b"".join(p[6:] for p in parts).decode("utf-16-be") == text


async def test_mo_with_ussd_service_op_reaches_on_mo(
    smpp34_peer: Smpp34Peer, make_link: LinkFactory
) -> None:
    """The peer's deliver_sm (MO, TLV ussd_service_op 1) reaches on_mo and is answered OK."""
    link = await _bound(make_link, smpp34_peer)
    seen: list[InboundMessage] = []

    async def on_mo(message: InboundMessage) -> None:
        seen.append(message)

    link.on_mo = on_mo
    ident = await smpp34_peer.deliver(PHONE, "20880", b"BAL", tlvs=[[0x0501, "01"]])
    await smpp34_peer.wait_for(
        lambda: {"event": "deliver_resp", "id": ident, "status": 0} in smpp34_peer.events
    )
    assert [(m.source_addr, m.destination_addr, m.text, m.ussd_service_op) for m in seen] == [
        (PHONE, "20880", "BAL", 1)
    ]


async def test_arabic_mo_is_decoded(smpp34_peer: Smpp34Peer, make_link: LinkFactory) -> None:
    """An MO in data_coding 8 (UTF-16BE) reaches on_mo as text."""
    link = await _bound(make_link, smpp34_peer)
    seen: list[str] = []

    async def on_mo(message: InboundMessage) -> None:
        seen.append(message.text)

    link.on_mo = on_mo
    await smpp34_peer.deliver(PHONE, "20880", "رصيد".encode("utf-16-be"), data_coding=8)
    await smpp34_peer.wait_for(lambda: bool(seen))
    assert seen == ["رصيد"]


async def test_receipt_before_response_is_matched(make_link: LinkFactory, tmp_path: Path) -> None:
    """The peer sends the receipt before submit_sm_resp; it is matched to the submit anyway."""
    peer = Smpp34Peer(free_port(), tmp_path / "events.jsonl", "--receipt-before-resp")
    await peer.start()
    try:
        link = await _bound(make_link, peer)
        reports = _reports(link)
        outcomes = [await link.submit(_sms(f"t{n}")) for n in range(5)]
        await peer.wait_for(lambda: len(reports) == 5)
    finally:
        await peer.kill()
    assert sorted(r.provider_message_id for r in reports) == sorted(
        str(o.provider_message_id) for o in outcomes
    )
    assert link.parked_receipts == 0


async def test_the_link_rebinds_after_the_peer_is_killed_and_restarted(
    smpp34_peer: Smpp34Peer, make_link: LinkFactory
) -> None:
    """SIGKILL the peer.

    The link goes down and submits are retryable; restart it on the same port: the link binds again
    by itself and submits are accepted.
    """
    link = await _bound(make_link, smpp34_peer)
    await smpp34_peer.kill()
    await smpp34_peer.wait_for(lambda: link.state is not LinkState.BOUND)
    during = await link.submit(_sms("during"))
    assert (during.accepted, during.retryable) == (False, True)
    await asyncio.sleep(0.3)  # several failed reconnects (50-200 ms apart)
    await smpp34_peer.start()
    assert await link.wait_bound(3.0)
    assert link.binds == 2
    assert (await link.submit(_sms("after"))).accepted
    await smpp34_peer.wait_for(lambda: len(smpp34_peer.submits()) == 1)
    assert [bytes.fromhex(s["hex"]) for s in smpp34_peer.submits()] == [b"after"]
