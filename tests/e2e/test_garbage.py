"""Garbage on every route gets a 4xx or a polite END screen — never a 5xx, never a dead worker.

Hand-picked cases name what each route must refuse; a Hypothesis run throws arbitrary bytes
at every POST route; after all of it the gateway still sells (the last test of each run).
"""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import MAX_BODY
from gateway.simulate import simulator
from tests.e2e.conftest import TOKEN_RE, LiveGateway
from vending_core.service.demo_data import DEMO_METERS

POST_ROUTES: Final = (
    "/ussd/africastalking",
    "/ussd/africastalking/events",
    "/ussd/hubtel",
    "/ussd/nalo",
    "/ussd/arkesel",
    "/payments/sandbox/callback",
    "/sms/africastalking/delivery",
    "/sms/africastalking/inbound",
)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


async def post(
    gateway: LiveGateway, path: str, body: bytes, content_type: str
) -> tuple[int, bytes]:
    """POST raw bytes; the status and body."""
    headers = {"Content-Type": content_type}
    async with gateway.http.post(gateway.base_url + path, data=body, headers=headers) as r:
        return r.status, await r.read()


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/ussd/africastalking", b"sessionId=1&phoneNumber=%2B2547", FORM),  # no text field
        ("/ussd/africastalking", b"\xff\xfe\x00garbage", FORM),  # not UTF-8
        ("/ussd/africastalking/events", b"sessionId=1&status=Exploded", FORM),
        ("/ussd/hubtel", b'{"Type": "Initiation"}', JSON),  # no SessionId
        ("/ussd/hubtel", b"[1, 2, 3]", JSON),  # not an object
        (
            "/ussd/hubtel",
            b'{"Type":"Response","SessionId":"x","Mobile":"2335","Message":"1",'
            b'"ClientState":"not ours"}',
            JSON,
        ),
        ("/ussd/nalo", b'{"USERID": 5, "MSGTYPE": "maybe"}', JSON),
        ("/ussd/arkesel", b"{not json", JSON),
        ("/payments/sandbox/callback", b'{"reference": 12}', JSON),
        ("/payments/sandbox/callback", b"\x00\x01", "application/octet-stream"),
        ("/sms/africastalking/delivery", b"id=&status=", FORM),
    ],
)
async def test_malformed_requests_get_a_4xx(
    gateway: LiveGateway, path: str, body: bytes, content_type: str
) -> None:
    """Wrong fields, wrong types, non-UTF-8 and non-JSON bodies are the sender's error: 400."""
    status, _ = await post(gateway, path, body, content_type)
    assert status == 400


async def test_unknown_provider_is_404(gateway: LiveGateway) -> None:
    """An aggregator or payment provider we do not know: 404 problem JSON."""
    for path in ("/ussd/telco-x", "/payments/paypal/callback"):
        status, body = await post(gateway, path, b"{}", JSON)
        assert status == 404
        assert b"unknown-provider" in body


async def test_huge_body_is_413(gateway: LiveGateway) -> None:
    """A body over the limit is refused before any handler reads it."""
    status, _ = await post(gateway, "/ussd/hubtel", b"x" * (MAX_BODY + 1), JSON)
    assert status == 413


async def test_wrong_method_is_405(gateway: LiveGateway) -> None:
    """GET on a POST route: 405, as problem JSON."""
    async with gateway.http.get(gateway.base_url + "/ussd/hubtel") as response:
        assert response.status == 405


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(POST_ROUTES),
    body=st.binary(max_size=512) | st.text(max_size=200).map(str.encode),
    content_type=st.sampled_from([FORM, JSON, "text/plain", ""]),
)
async def test_arbitrary_bytes_never_get_a_5xx(
    gateway: LiveGateway, path: str, body: bytes, content_type: str
) -> None:
    """Any bytes with any content type on any POST route: the answer is below 500."""
    status, _ = await post(gateway, path, body, content_type or "application/x-unknown")
    assert status < 500


async def test_gateway_still_sells_after_garbage(gateway: LiveGateway) -> None:
    """After a burst of garbage on every route, a normal purchase completes."""
    for path in POST_ROUTES:
        await post(gateway, path, b"\xff" * 100, JSON)
    session = simulator("hubtel", gateway.http, gateway.base_url, msisdn="+233200000099")
    await session.dial()
    for text in ("1", DEMO_METERS[2].number, "1", "100"):
        await session.send(text)
    final = await session.send("1")
    assert len(TOKEN_RE.findall(final.text)) == 1
