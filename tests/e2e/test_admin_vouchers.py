"""Scratch cards end to end: issued through ``/admin/v1``, redeemed through ``/api/v1``.

The real gateway wires the admin API's voucher issuer with the same salt the voucher
provider redeems with, so a PIN from the admin answer buys a token that loads on the
reference meter; the batch listing then shows the card redeemed. A voided batch's
remaining card is refused. The PINs appear in the issuing answer only: not in the
listings, the audit log or anything logged.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

import sts
from gateway import keys
from gateway.api.client import Response, SigningClient
from tests.e2e.conftest import LiveGateway
from tests.support.api_world import new_client
from vending_core.service.admin_accounts import create_user
from vending_core.service.admin_records import AdminLevel, AdminUser
from vending_core.service.demo_data import DEMO_METERS

PASSWORD = "correct horse battery"
REDEEM = "/api/v1/vouchers/redeem"
FACE = 10_000  # R100.00 cards
#: Demo meter 6: BUS-FLAT (R2.00/kWh, VAT 15 %, no fixed charge, no FBE, no debt).
FLAT = DEMO_METERS[5]
#: R100.00 incl. 15 % VAT is R86.9565 net; at R2.00/kWh that is 43.478 kWh -> 434 tenths.
FLAT_CREDIT_TENTHS = 434


async def _admin_token(gateway: LiveGateway, username: str, level: AdminLevel) -> str:
    """A user of ``level`` made as the command line does, logged in over HTTP."""
    draft = AdminUser(
        username=username, level=level, password_hash="", created_at=datetime.now(UTC)
    )
    await create_user(gateway.app[keys.CORE], None, "cli", draft, PASSWORD)
    login = {"username": username, "password": PASSWORD}
    status, session = await _call(gateway, "POST", "/admin/v1/login", None, json=login)
    assert status == 200
    token: str = session["token"]
    return token


async def _call(
    gateway: LiveGateway, method: str, path: str, token: str | None, **kwargs: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with gateway.http.request(
        method, gateway.base_url + path, headers=headers, **kwargs
    ) as response:
        return response.status, await response.json(content_type=None)


async def _redeem(client: SigningClient, pin: str, key: str) -> Response:
    body = {"pin": pin, "meter_number": FLAT.number}
    return await client.request("POST", REDEEM, body, idempotency_key=key)


async def test_an_issued_pin_redeems_once_and_a_voided_card_is_refused(
    gateway: LiveGateway, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 2 x R100.00; card 1 redeems (201, 43.4 kWh on the meter); void; card 2 is 422.

    The listing shows card 1 ``redeemed`` (with when, and the API key's lockout tag as who)
    and card 2 ``void``; neither PIN is in the listings, the audit log or the logs.
    """
    caplog.set_level(logging.DEBUG)
    root = await _admin_token(gateway, "root", AdminLevel.ADMINISTRATOR)
    body = {"batch": "E2E-1", "count": 2, "face_value": FACE}
    status, issued = await _call(gateway, "POST", "/admin/v1/voucher-batches", root, json=body)
    assert (status, issued["currency"]) == (201, "KES")
    first, second = (v["pin"] for v in issued["vouchers"])

    client, _ = await new_client(gateway)  # a partner API key of DEMO-POS (the bank side)
    redeemed = await _redeem(client, first, "card-1")
    assert redeemed.status == 201, redeemed
    receipt = json.loads(redeemed.body)
    assert receipt["gross"] == FACE
    [token] = [t["token"] for t in receipt["tokens"] if t["kind"] == "credit"]
    meter = FLAT.reference_meter()
    assert meter.enter(token).result is sts.MeterResult.ACCEPT
    assert meter.credit_tenths() == FLAT_CREDIT_TENTHS

    status, after_sale = await _call(gateway, "GET", "/admin/v1/voucher-batches/E2E-1", root)
    assert status == 200
    assert (after_sale["active"], after_sale["redeemed"], after_sale["redeemed_value"]) == (
        1,
        1,
        FACE,
    )
    card_1, card_2 = after_sale["items"]
    assert (card_1["serial"], card_1["status"]) == ("E2E-1-000001", "redeemed")
    assert card_1["redeemed_at"] is not None
    assert card_1["redeemed_by"].startswith("api:")
    assert (card_2["status"], card_2["redeemed_at"]) == ("active", None)

    void = {"reason": "box lost in transit"}
    status, voided = await _call(
        gateway, "POST", "/admin/v1/voucher-batches/E2E-1/void", root, json=void
    )
    assert (status, voided["voided"]) == (200, 1)
    refused = await _redeem(client, second, "card-2")
    assert refused.status == 422
    problem = json.loads(refused.body)
    assert problem["type"].endswith("/voucher-invalid")

    _, listing = await _call(gateway, "GET", "/admin/v1/voucher-batches", root)
    _, after_void = await _call(gateway, "GET", "/admin/v1/voucher-batches/E2E-1", root)
    _, audit = await _call(gateway, "GET", "/admin/v1/audit?entity=voucher_batch", root)
    assert [c["status"] for c in after_void["items"]] == ["redeemed", "void"]
    assert [e["action"] for e in audit["items"]] == ["voucher_batch.create", "voucher_batch.void"]
    captured = capsys.readouterr()
    everywhere = json.dumps([listing, after_void, audit]) + captured.out + captured.err
    everywhere += caplog.text
    assert "/admin/v1/voucher-batches" in everywhere  # the request lines were logged
    for pin in (first, second):
        assert pin not in everywhere
