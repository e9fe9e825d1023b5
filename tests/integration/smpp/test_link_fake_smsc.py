"""SmppLink against the in-repo fake SMSC: each failure scenario of messaging.md §3.7(a)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from smpp.client import SmppLink
from smpp.models import InboundMessage, LinkState
from smpp.pdu import Command, Pdu, ShortMessageBody, Status, Tlv
from tests.support.fake_smsc import FakeSmsc, receipt_body
from vending_core.service.sms_ports import DeliveryReport, OutboundSms

PHONE = "254712345678"
LinkFactory = Callable[..., SmppLink]


def _sms(text: str = "Token 1234-5678-9012-3456-7890", to: str = PHONE) -> OutboundSms:
    return OutboundSms(to=to, text=text, reference="ref")


async def _bound(make_link: LinkFactory, fake: FakeSmsc, **config: object) -> SmppLink:
    link = make_link(fake.port, **config)
    assert await link.wait_bound(3.0)
    return link


def _collect(link: SmppLink) -> list[DeliveryReport]:
    reports: list[DeliveryReport] = []

    async def on_receipt(report: DeliveryReport) -> None:
        reports.append(report)

    link.on_receipt = on_receipt
    return reports


async def test_bind_submit_and_receipt(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """Happy path.

    One submit_sm, accepted as 00000A01; the receipt says 'a01' and still matches (ids normalised)
    and reaches on_receipt under the id submit() returned.
    """
    fake_smsc.auto_receipt = "DELIVRD"
    link = await _bound(make_link, fake_smsc)
    reports = _collect(link)
    outcome = await link.submit(_sms())
    assert (outcome.accepted, outcome.provider_message_id) == (True, "test:a01")
    await fake_smsc.wait_for(lambda: len(reports) == 1)
    assert reports == [
        DeliveryReport(provider="smpp", provider_message_id="test:a01", status="DELIVRD")
    ]
    sent = fake_smsc.accepted()[0].body
    assert (sent.destination_addr, sent.data_coding, sent.esm_class) == (PHONE, 0, 0)
    assert sent.short_message == b"Token 1234-5678-9012-3456-7890"
    assert sent.registered_delivery == 1


async def test_bind_error_keeps_the_link_down(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """A wrong password gets ESME_RINVPASWD 0x0E.

    Not bound, submit is retryable, the error names the status and never the password.
    """
    link = make_link(fake_smsc.port, password="wrongpw")
    assert not await link.wait_bound(0.5)
    outcome = await link.submit(_sms())
    assert (outcome.accepted, outcome.retryable) == (False, True)
    assert "0x0000000E" in link.last_error
    assert "wrongpw" not in link.last_error
    assert "wrongpw" not in repr(link)
    assert fake_smsc.binds == 0


async def test_black_hole_submit_times_out_retryably(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """No submit_sm_resp within response_timeout_s (0.3 s): retry_later, status 'timeout'."""
    link = await _bound(make_link, fake_smsc, response_timeout_s=0.3)
    fake_smsc.no_response_on_submit = True
    started = time.monotonic()
    outcome = await link.submit(_sms())
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, "timeout")
    assert 0.3 <= time.monotonic() - started < 2.0


async def test_unanswered_enquire_link_drops_the_link(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """Black hole after bind.

    The idle enquire_link (every 1 s here) gets no answer within 0.3 s, so the link goes down and
    binds again (a second bind).
    """
    link = await _bound(make_link, fake_smsc, enquire_link_s=1.0, response_timeout_s=0.3)
    fake_smsc.black_hole = True
    await fake_smsc.wait_for(lambda: fake_smsc.binds >= 2, within=5.0)
    assert any(p.command_id == Command.ENQUIRE_LINK for p in fake_smsc.from_esme)
    assert "enquire_link" in link.last_error


async def test_generic_nack_to_submit_is_retryable(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """generic_nack (with our sequence) answers the submit: retry later, status named."""
    link = await _bound(make_link, fake_smsc)
    fake_smsc.generic_nack_on_submit = True
    outcome = await link.submit(_sms())
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, "ESME_RSYSERR")
    assert "generic_nack" in outcome.error


async def test_generic_nack_without_sequence_ends_in_a_timeout(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """A generic_nack with sequence 0 matches no request.

    The submit times out (retryable) and the session lives on (the next submit works).
    """
    link = await _bound(make_link, fake_smsc, response_timeout_s=0.3)
    fake_smsc.generic_nack_on_submit = True
    fake_smsc.generic_nack_with_seq = False
    assert (await link.submit(_sms())).status == "timeout"
    fake_smsc.generic_nack_on_submit = False
    assert (await link.submit(_sms())).accepted
    assert fake_smsc.binds == 1


async def test_error_statuses_on_submit(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """§3.5.

    0x0B bad destination and 0x45 submit failed are permanent; 0x08 system error and 0x14 queue full
    are retryable.
    """
    link = await _bound(make_link, fake_smsc, throttle_pause_s=0.0)
    expectations = {0x0B: False, 0x45: False, 0x08: True, 0x14: True}
    for status, retryable in expectations.items():
        fake_smsc.submit_status = status
        outcome = await link.submit(_sms())
        assert (outcome.accepted, outcome.retryable) == (False, retryable), hex(status)
        assert outcome.provider_message_id is None


async def test_unbind_on_submit_is_retryable_and_the_link_rebinds(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """The SMSC answers a submit with unbind.

    We send unbind_resp, the submit is retryable, and the link binds again on its own.
    """
    link = await _bound(make_link, fake_smsc)
    fake_smsc.unbind_on_submit = True
    outcome = await link.submit(_sms())
    assert (outcome.accepted, outcome.retryable) == (False, True)
    assert any(p.command_id == Command.UNBIND_RESP for p in fake_smsc.from_esme)
    fake_smsc.unbind_on_submit = False
    await fake_smsc.wait_for(lambda: fake_smsc.binds == 2)
    assert await link.wait_bound(2.0)
    assert (await link.submit(_sms())).accepted


async def test_bad_command_length_gets_generic_nack_and_a_new_session(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """A PDU claiming length 8 (< 16) cannot be framed.

    Generic_nack ESME_RINVCMDLEN with its sequence, the connection is dropped, the link binds again
    and works.
    """
    link = await _bound(make_link, fake_smsc)
    await fake_smsc.send_raw(bytes.fromhex("0000000800000005000000000000002A"))
    await fake_smsc.wait_for(lambda: fake_smsc.binds == 2)
    nack = next(p for p in fake_smsc.from_esme if p.command_id == Command.GENERIC_NACK)
    assert (nack.status, nack.sequence) == (Status.RINVCMDLEN, 0x2A)
    assert await link.wait_bound(2.0)
    assert (await link.submit(_sms())).accepted


async def test_invalid_command_id_gets_generic_nack_and_the_session_lives(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """Command_id 0x00000999 is unknown.

    Generic_nack ESME_RINVCMDID 0x03, same sequence; the same session keeps working.
    """
    link = await _bound(make_link, fake_smsc)
    await fake_smsc.send_raw(Pdu(0x999, 77).encode())
    await fake_smsc.wait_for(lambda: any(p.sequence == 77 for p in fake_smsc.from_esme))
    nack = next(p for p in fake_smsc.from_esme if p.sequence == 77)
    assert (nack.command_id, nack.status) == (Command.GENERIC_NACK, Status.RINVCMDID)
    assert (await link.submit(_sms())).accepted
    assert fake_smsc.binds == 1


async def test_malformed_deliver_sm_gets_rinvcmdlen(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """A framed deliver_sm whose body stops mid C-string: generic_nack 0x02, session lives."""
    link = await _bound(make_link, fake_smsc)
    await fake_smsc.send_raw(Pdu(Command.DELIVER_SM, 78, 0, b"\0\x01\x01254").encode())
    await fake_smsc.wait_for(lambda: any(p.sequence == 78 for p in fake_smsc.from_esme))
    nack = next(p for p in fake_smsc.from_esme if p.sequence == 78)
    assert (nack.command_id, nack.status) == (Command.GENERIC_NACK, Status.RINVCMDLEN)
    assert (await link.submit(_sms())).accepted


async def test_enquire_link_from_the_smsc_is_answered_with_its_sequence(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """Smpplib #52 got this wrong: the enquire_link_resp carries the request's sequence."""
    await _bound(make_link, fake_smsc)
    await fake_smsc.send_raw(Pdu(Command.ENQUIRE_LINK, 0x1234).encode())
    await fake_smsc.wait_for(lambda: any(p.sequence == 0x1234 for p in fake_smsc.from_esme))
    resp = next(p for p in fake_smsc.from_esme if p.sequence == 0x1234)
    assert (resp.command_id, resp.status) == (Command.ENQUIRE_LINK_RESP, 0)


async def test_receipt_before_submit_sm_resp_is_matched(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """The fake sends the receipt and waits for our deliver_sm_resp before the submit_sm_resp.

    The receipt is parked, then released under the submit's id.
    """
    fake_smsc.receipt_before_resp = True
    link = await _bound(make_link, fake_smsc)
    reports = _collect(link)
    outcome = await link.submit(_sms())
    assert outcome.accepted
    await fake_smsc.wait_for(lambda: len(reports) == 1)
    assert reports[0].provider_message_id == outcome.provider_message_id
    assert reports[0].status == "DELIVRD"
    assert link.parked_receipts == 0


async def test_throttled_submit_is_retryable_and_pauses_the_bind(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """QoS 2 msg/s.

    The third submit in a burst gets ESME_RTHROTTLED 0x58 (retryable); the next submit waits
    throttle_pause_s (0.2 s) before it goes out.
    """
    link = await _bound(make_link, fake_smsc, throttle_pause_s=0.2)
    fake_smsc.max_per_second = 2
    outcomes = [await link.submit(_sms()) for _ in range(3)]
    assert [o.accepted for o in outcomes] == [True, True, False]
    assert (outcomes[2].retryable, outcomes[2].status) == (True, "ESME_RTHROTTLED")
    fake_smsc.max_per_second = None
    started = time.monotonic()
    assert (await link.submit(_sms())).accepted
    assert time.monotonic() - started >= 0.19


async def test_tps_limit_spaces_submits(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """Tps 20 = one submit per 50 ms: 6 submits need at least 5 x 50 ms = 0.25 s."""
    link = await _bound(make_link, fake_smsc, tps=20.0)
    started = time.monotonic()
    for _ in range(6):
        assert (await link.submit(_sms())).accepted
    assert time.monotonic() - started >= 0.24


async def test_window_caps_outstanding_submits(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """Window 2 and an SMSC that never answers.

    Of 4 concurrent submits only 2 are on the wire until the first two time out.
    """
    link = await _bound(make_link, fake_smsc, window=2, response_timeout_s=0.5)
    fake_smsc.no_response_on_submit = True
    sends = [asyncio.ensure_future(link.submit(_sms())) for _ in range(4)]
    await asyncio.sleep(0.3)
    assert len(fake_smsc.submits) == 2
    outcomes = await asyncio.gather(*sends)
    assert len(fake_smsc.submits) == 4
    assert all(o.status == "timeout" for o in outcomes)


async def test_strict_radio_accepts_our_long_gsm7_and_arabic_parts(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """Long GSM-7 and Arabic texts pass a strict radio-size SMSC.

    Any part over 140 octets on air is refused, yet a 400-character GSM-7 text
    (153 + 153 + 94) and a 150-character Arabic one (67 + 67 + 16) are accepted.
    """
    fake_smsc.strict_radio = True
    link = await _bound(make_link, fake_smsc)
    assert (await link.submit(_sms("x" * 400))).accepted
    assert (await link.submit(_sms("ب" * 150))).accepted
    parts = [(s.body.data_coding, len(s.body.short_message) - 6) for s in fake_smsc.accepted()]
    assert parts == [(0, 153), (0, 153), (0, 94), (8, 134), (8, 134), (8, 32)]
    assert all(s.body.esm_class == 0x40 for s in fake_smsc.accepted())


async def test_mo_reaches_on_mo_with_ussd_service_op(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """An MO deliver_sm is decoded and handed to on_mo.

    Deliver_sm_resp is ESME_ROK; the ussd_service_op TLV (0x0501 = 1, PSSR indication) is exposed.
    """
    link = await _bound(make_link, fake_smsc)
    seen: list[InboundMessage] = []

    async def on_mo(message: InboundMessage) -> None:
        seen.append(message)

    link.on_mo = on_mo
    body = ShortMessageBody(
        source_addr=PHONE,
        destination_addr="20880",
        short_message=b"BUY 04040404040 500",
        tlvs={Tlv.USSD_SERVICE_OP: b"\x01"},
    )
    resp = await fake_smsc.deliver(body)
    assert (resp.command_id, resp.status) == (Command.DELIVER_SM_RESP, Status.ROK)
    assert [(m.source_addr, m.text, m.ussd_service_op, m.bind) for m in seen] == [
        (PHONE, "BUY 04040404040 500", 1, "test")
    ]


async def test_a_failing_on_mo_is_answered_rx_t_appn_and_the_session_lives(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """On_mo raises.

    Deliver_sm_resp ESME_RX_T_APPN 0x64 (the SMSC redelivers later), the error is logged, and the
    link still submits.
    """
    link = await _bound(make_link, fake_smsc)

    async def on_mo(message: InboundMessage) -> None:
        raise RuntimeError(f"database down for {message.source_addr}")

    link.on_mo = on_mo
    resp = await fake_smsc.deliver(ShortMessageBody(source_addr=PHONE, destination_addr="1"))
    assert resp.status == Status.RX_T_APPN
    assert (await link.submit(_sms())).accepted
    assert link.state is LinkState.BOUND


async def test_a_failing_on_receipt_never_kills_the_session(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """on_receipt raises: answered 0x64, the link stays bound and keeps working."""
    link = await _bound(make_link, fake_smsc)
    outcome = await link.submit(_sms())
    assert outcome.accepted

    async def on_receipt(report: DeliveryReport) -> None:
        raise RuntimeError(report.provider_message_id)

    link.on_receipt = on_receipt
    resp = await fake_smsc.deliver(receipt_body("a01", "DELIVRD", tlvs=True))
    assert resp.status == Status.RX_T_APPN
    assert (await link.submit(_sms())).accepted


async def test_stop_unbinds_cleanly(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """stop() sends unbind, gets unbind_resp, ends down; submit afterwards is retryable."""
    link = await _bound(make_link, fake_smsc)
    await link.stop()
    assert fake_smsc.from_esme[-1].command_id == Command.UNBIND
    assert link.state is LinkState.DOWN
    assert (await link.submit(_sms())).retryable


async def test_out_of_order_responses_reach_the_right_submit(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """Responses come back in reverse order; each submit still gets its own message id.

    Three concurrent submits to three numbers; the fake holds the three responses and
    sends them last-first. Each outcome's id is the one the fake gave that number.
    """
    link = await _bound(make_link, fake_smsc)
    fake_smsc.reverse_responses = 3
    numbers = ["254712000001", "254712000002", "254712000003"]
    outcomes = await asyncio.gather(*(link.submit(_sms("t", to=n)) for n in numbers))
    given = {s.body.destination_addr: s.message_id for s in fake_smsc.accepted()}
    expected = [f"test:{given[n].lower().lstrip('0')}" for n in numbers]
    assert [o.provider_message_id for o in outcomes] == expected
    assert len(set(expected)) == 3


async def test_deliver_sm_before_bound_is_refused_rinvbndsts(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """An MO sent before our bind is answered gets ESME_RINVBNDSTS 0x04, not on_mo."""
    fake_smsc.deliver_before_bind_resp = True
    link = make_link(fake_smsc.port)
    seen: list[InboundMessage] = []

    async def on_mo(message: InboundMessage) -> None:
        seen.append(message)

    link.on_mo = on_mo
    assert await link.wait_bound(3.0)
    await fake_smsc.wait_for(lambda: any(p.sequence == 9999 for p in fake_smsc.from_esme))
    resp = next(p for p in fake_smsc.from_esme if p.sequence == 9999)
    assert (resp.command_id, resp.status) == (Command.DELIVER_SM_RESP, Status.RINVBNDSTS)
    assert seen == []


async def test_stop_does_not_hang_when_unbind_is_unanswered(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """UnbindNoResponse: stop(grace=0.3) still returns promptly and leaves the link down."""
    link = await _bound(make_link, fake_smsc)
    fake_smsc.black_hole = True
    started = time.monotonic()
    await link.stop(grace=0.3)
    assert time.monotonic() - started < 1.0
    assert link.state is LinkState.DOWN


async def test_extra_tlvs_go_on_the_submit(fake_smsc: FakeSmsc, make_link: LinkFactory) -> None:
    """A USSD-over-SMPP reply carries ussd_service_op 17 (PSSR response) on its submit_sm."""
    link = await _bound(make_link, fake_smsc)
    outcome = await link.submit(_sms("Balance: 12.5 kWh"), tlvs={Tlv.USSD_SERVICE_OP: b"\x11"})
    assert outcome.accepted
    assert fake_smsc.accepted()[0].body.tlvs == {0x0501: b"\x11"}


async def test_framed_garbage_never_kills_the_session(
    fake_smsc: FakeSmsc, make_link: LinkFactory
) -> None:
    """200 well-framed PDUs with random command ids, sequences and bodies.

    Requests get generic_nack or a response, stray responses are ignored; the same
    session (one bind) still submits afterwards.
    """
    link = await _bound(make_link, fake_smsc)
    rng = random.Random(5)  # noqa: S311 - reproducible test garbage, not a secret
    commands = [Command.DELIVER_SM, Command.SUBMIT_SM, Command.BIND_TRANSCEIVER, 0x999]
    commands += [Command.GENERIC_NACK, Command.SUBMIT_SM_RESP, Command.ENQUIRE_LINK_RESP]
    for _ in range(200):
        command = rng.choice([*commands, rng.getrandbits(32) | 0x100])
        body = rng.randbytes(rng.randrange(0, 80))
        await fake_smsc.send_raw(Pdu(command, rng.randrange(10_000, 20_000), 0, body).encode())
    assert (await link.submit(_sms())).accepted
    assert (fake_smsc.binds, link.state) == (1, LinkState.BOUND)
