"""Africa's Talking client specifics against the fake AT server, and the small senders.

Expected codes and fields are those of messaging.md §2.1 / §2.3 (AT's documented statusCodes
and callback fields), not the client's own tables.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator

import pytest

from gateway.sms.africastalking import AfricasTalkingSms, parse_delivery_report
from gateway.sms.console import ConsoleSmsSender
from gateway.sms.errors import MalformedDeliveryReport
from gateway.sms.memory import MemorySmsSender
from tests.support.fake_africastalking import FakeAfricasTalking
from vending_core.service.sms_ports import OutboundSms

PHONE = "254712345678"
SMS = OutboundSms(to=PHONE, text="Token 1234-5678-9012-3456-7890", reference="vend:1:token")


@pytest.fixture
async def fake() -> AsyncIterator[FakeAfricasTalking]:
    """A running fake AT server."""
    server = FakeAfricasTalking(api_key="s3cret-key")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeAfricasTalking) -> AsyncIterator[AfricasTalkingSms]:
    """A client on the fake, with sender id VENDGATE and a short timeout."""
    sms = AfricasTalkingSms(
        username="sandbox",
        api_key="s3cret-key",
        sender_id="VENDGATE",
        base_url=fake.base_url + "/",
        timeout=0.5,
    )
    yield sms
    await sms.aclose()


async def test_request_carries_the_documented_fields_and_headers(
    client: AfricasTalkingSms, fake: FakeAfricasTalking
) -> None:
    """username, to with '+', message, from; apiKey header; Accept: application/json."""
    outcome = await client.send(SMS)
    (got,) = fake.received
    assert got.form == {
        "username": "sandbox",
        "to": "+254712345678",
        "message": "Token 1234-5678-9012-3456-7890",
        "from": "VENDGATE",
    }
    assert (got.api_key, got.accept) == ("s3cret-key", "application/json")
    assert (outcome.accepted, outcome.provider_message_id, outcome.status) == (
        True,
        "ATXid_1",
        "Success",
    )


@pytest.mark.parametrize(
    ("code", "status", "accepted", "retryable"),
    [
        (100, "Processed", True, False),
        (102, "Queued", True, False),
        (405, "InsufficientBalance", False, True),
        (500, "InternalServerError", False, True),
        (502, "RejectedByGateway", False, True),
        (401, "RiskHold", False, False),
        (402, "InvalidSenderId", False, False),
        (403, "InvalidPhoneNumber", False, False),
        (406, "UserInBlacklist", False, False),
        (409, "DoNotDisturbRejection", False, False),
        (499, "SomethingNew", False, False),
    ],
)
async def test_every_recipient_status_code_is_mapped(
    client: AfricasTalkingSms,
    fake: FakeAfricasTalking,
    code: int,
    status: str,
    accepted: bool,
    retryable: bool,
) -> None:
    """HTTP 201 with a recipient code: 100-102 accepted, 405/500-502 retry, others permanent."""
    fake.recipient_status["+" + PHONE] = (code, status)
    outcome = await client.send(SMS)
    assert (outcome.accepted, outcome.status) == (accepted, str(code) if not accepted else status)
    if not accepted:
        assert outcome.retryable is retryable
        assert outcome.error == f"{code} {status}"


async def test_http_500_and_a_closed_port_are_retryable(
    client: AfricasTalkingSms, fake: FakeAfricasTalking
) -> None:
    """HTTP 5xx and connection refused both come back as retryable, never as exceptions."""
    fake.http_status = 500
    server_error = await client.send(SMS)
    assert (server_error.accepted, server_error.retryable, server_error.status) == (
        False,
        True,
        "500",
    )
    await fake.stop()
    refused = await client.send(SMS)
    assert (refused.accepted, refused.retryable, refused.status) == (False, True, "network")


async def test_a_slow_provider_times_out_as_retryable(
    client: AfricasTalkingSms, fake: FakeAfricasTalking
) -> None:
    """No answer within the 0.5 s timeout: retryable, noting the SMS may be out already."""
    fake.delay = 2.0
    outcome = await client.send(SMS)
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, "timeout")
    assert "may have been sent" in outcome.error


async def test_wrong_api_key_is_retryable_and_the_key_is_never_shown(
    fake: FakeAfricasTalking, caplog: pytest.LogCaptureFixture
) -> None:
    """HTTP 401 keeps the message for later; the key is not in the outcome, repr or logs."""
    caplog.set_level(logging.DEBUG)
    client = AfricasTalkingSms(username="sandbox", api_key="wrong-key-42", base_url=fake.base_url)
    try:
        outcome = await client.send(SMS)
    finally:
        await client.aclose()
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, "401")
    for text in (outcome.error, repr(outcome), repr(client), caplog.text):
        assert "wrong-key-42" not in text


async def test_an_unreadable_success_body_is_retryable(
    client: AfricasTalkingSms, fake: FakeAfricasTalking
) -> None:
    """A 2xx body that is not AT's JSON (XML here) cannot prove acceptance: retry later."""
    fake.reply_xml = True
    outcome = await client.send(SMS)
    assert (outcome.accepted, outcome.retryable, outcome.status) == (False, True, "200")
    assert outcome.error.startswith("unreadable reply")


def test_parse_delivery_report_reads_the_documented_fields() -> None:
    """id, status, phoneNumber, networkCode, failureReason, retryCount (messaging.md §2.3)."""
    report = parse_delivery_report(
        {
            "id": "ATXid_7",
            "status": "Failed",
            "phoneNumber": "+254712345678",
            "networkCode": "63902",
            "failureReason": "UserInBlackList",
            "retryCount": "2",
        }
    )
    assert (report.provider, report.provider_message_id, report.status) == (
        "africastalking",
        "ATXid_7",
        "Failed",
    )
    assert (report.failure_reason, report.phone_number, report.network_code) == (
        "UserInBlackList",
        "+254712345678",
        "63902",
    )
    assert report.retry_count == 2


@pytest.mark.parametrize("form", [{"status": "Success"}, {"id": "ATXid_1"}, {"id": " "}])
def test_parse_delivery_report_needs_id_and_status(form: dict[str, str]) -> None:
    """Without an id or a status the callback is malformed (the route answers 400)."""
    with pytest.raises(MalformedDeliveryReport):
        parse_delivery_report(form)


def test_parse_delivery_report_defaults_optional_fields() -> None:
    """Success reports carry no failureReason; a non-numeric retryCount counts as 0."""
    report = parse_delivery_report({"id": "ATXid_1", "status": "Success", "retryCount": "x"})
    assert (report.failure_reason, report.retry_count) == ("", 0)


async def test_console_sender_prints_the_whole_message() -> None:
    """The developer's console shows number, id and the text with its token."""
    stream = io.StringIO()
    sender = ConsoleSmsSender(stream, run="ab12cd34")
    outcome = await sender.send(SMS)
    assert outcome.accepted
    assert stream.getvalue() == (
        "SMS to +254712345678 [console-ab12cd34-1]: Token 1234-5678-9012-3456-7890\n"
    )


async def test_console_and_memory_ids_differ_between_senders() -> None:
    """Two senders (two processes, or one restarted) never hand out the same message id."""
    first, second = ConsoleSmsSender(io.StringIO()), ConsoleSmsSender(io.StringIO())
    assert (await first.send(SMS)).provider_message_id != (
        await second.send(SMS)
    ).provider_message_id
    one, other = MemorySmsSender(), MemorySmsSender()
    assert (await one.send(SMS)).provider_message_id != (await other.send(SMS)).provider_message_id


async def test_console_sender_on_a_closed_stream_is_retryable() -> None:
    """A closed stream is a retryable failure, not an exception."""
    stream = io.StringIO()
    stream.close()
    outcome = await ConsoleSmsSender(stream).send(SMS)
    assert (outcome.accepted, outcome.retryable) == (False, True)
