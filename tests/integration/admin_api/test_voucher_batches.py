"""Scratch-card batches over HTTP on SQLite and PostgreSQL: issue, list, one batch, void.

The admin sub-app is mounted as in ``conftest.py``, plus the voucher issuer (salt and
currency) that ``gateway.app`` puts on the parent app. Redemption through the partner API
is in ``tests/e2e/test_admin_vouchers.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from admin_api.app import create_admin_app
from admin_api.context import ADMIN_CORE
from admin_api.vouchers import VOUCHER_ISSUER, VoucherIssuer
from tests.integration.admin_api.conftest import KEK, START, Admin
from tests.support.core_world import Clock
from vending_core.adapters.compose import sql_core
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import load_demo_data

SALT = b"test voucher salt"
PROBLEMS = "https://vendgate.dev/problems/"
NEW = {"batch": "NOV-A", "count": 3, "face_value": 5_000}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite copy, or the session's PostgreSQL database emptied for this test."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    request.getfixturevalue("postgres_engine")  # truncates every table
    url = request.getfixturevalue("migrated_postgres_url")
    return str(url)


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Admin]:
    """The admin API with the demo utility, issuing KES cards under SALT."""
    clock = Clock(START)
    async with sql_core(database_url, KEK, clock=clock, pool_size=4) as core:
        await load_demo_data(core)
        parent = web.Application()
        parent[ADMIN_CORE] = core
        parent[VOUCHER_ISSUER] = VoucherIssuer(SALT, "KES")
        parent.add_subapp("/admin/v1", create_admin_app())
        async with TestServer(parent) as server, aiohttp.ClientSession() as http:
            yield Admin(core, clock, str(server.make_url("/admin/v1")), http)


def hmac_hex(pin: str) -> str:
    """The stored hash, computed here by hand: HMAC-SHA256(SALT, pin digits) in hex."""
    return hmac.new(SALT, pin.encode(), hashlib.sha256).hexdigest()


async def test_issue_answers_pins_once_and_lists_show_none(admin: Admin) -> None:
    """3 cards of 50.00 KES: 201 with serials NOV-A-000001..3 and distinct 16-digit PINs.

    Each PIN is stored as HMAC-SHA256(SALT, PIN) and nowhere in clear: not in the batch
    list (3 active, total 3 x 5 000 = 15 000), the batch's cards, or the audit entry (batch,
    count, face value, first and last serial).
    """
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    async with admin.http.post(
        admin.base + "/voucher-batches", json=NEW, headers={"Authorization": f"Bearer {root}"}
    ) as response:
        assert response.status == 201
        assert response.headers["Cache-Control"] == "no-store"
        issued = await response.json()
    assert {k: issued[k] for k in ("batch", "count", "face_value", "currency")} == {
        **NEW,
        "currency": "KES",
    }
    serials = [v["serial"] for v in issued["vouchers"]]
    pins = [v["pin"] for v in issued["vouchers"]]
    assert serials == ["NOV-A-000001", "NOV-A-000002", "NOV-A-000003"]
    assert all(re.fullmatch(r"[0-9]{16}", pin) for pin in pins)
    assert len(set(pins)) == 3
    async with admin.core.uow() as uow:
        for serial, pin in zip(serials, pins, strict=True):
            card = await uow.vouchers.get_by_pin_hash(hmac_hex(pin))
            assert card is not None
            assert (card.serial, card.face_value, card.currency) == (serial, 5_000, "KES")

    pos = await admin.token(AdminLevel.POS_MANAGER)
    status, listing = await admin.call("GET", "/voucher-batches", pos)
    assert status == 200
    [summary] = listing["items"]
    assert {k: summary[k] for k in ("batch", "count", "active", "redeemed", "void")} == {
        "batch": "NOV-A",
        "count": 3,
        "active": 3,
        "redeemed": 0,
        "void": 0,
    }
    assert (summary["total_value"], summary["active_value"]) == (15_000, 15_000)
    status, one = await admin.call("GET", "/voucher-batches/NOV-A?limit=2&offset=1", pos)
    assert status == 200
    assert [(c["serial"], c["status"]) for c in one["items"]] == [
        ("NOV-A-000002", "active"),
        ("NOV-A-000003", "active"),
    ]
    _, audit = await admin.call("GET", "/audit?entity=voucher_batch", root)
    [entry] = audit["items"]
    assert entry["action"] == "voucher_batch.create"
    assert entry["after"] == {
        **NEW,
        "currency": "KES",
        "first_serial": "NOV-A-000001",
        "last_serial": "NOV-A-000003",
    }
    seen = json.dumps([listing, one, audit])
    assert not any(pin in seen for pin in pins)


async def test_csv_for_the_printer_by_query_or_accept_header(admin: Admin) -> None:
    """``?format=csv`` and ``Accept: text/csv``: a header row ``serial,pin`` and one row a card."""
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    auth = {"Authorization": f"Bearer {root}"}
    for batch, query, accept in (("CSV-1", "?format=csv", "*/*"), ("CSV-2", "", "text/csv")):
        body = {"batch": batch, "count": 2, "face_value": 10_000}
        async with admin.http.post(
            admin.base + "/voucher-batches" + query, json=body, headers={**auth, "Accept": accept}
        ) as response:
            assert response.status == 201
            assert response.content_type == "text/csv"
            assert response.headers["Cache-Control"] == "no-store"
            assert f'filename="{batch}.csv"' in response.headers["Content-Disposition"]
            lines = (await response.text()).split("\r\n")
        assert lines[0] == "serial,pin"
        assert [line.split(",")[0] for line in lines[1:3]] == [f"{batch}-000001", f"{batch}-000002"]
        assert all(re.fullmatch(r"[0-9]{16}", line.split(",")[1]) for line in lines[1:3])
        assert lines[3:] == [""]  # the last row ends with CRLF too


async def test_refusals_store_nothing(admin: Admin) -> None:
    """Name taken 409; count 0 or 10 001, face value 0, a bad name 400; USD 422; levels 403.

    Issuing is for administrators only (an SMS manager gets 403); an unknown batch is 404
    for reading and voiding. Only the first batch exists afterwards.
    """
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    assert (await admin.call("POST", "/voucher-batches", root, json=NEW))[0] == 201
    status, taken = await admin.call("POST", "/voucher-batches", root, json=NEW)
    assert (status, taken["type"]) == (409, PROBLEMS + "voucher-batch-exists")
    for change in (
        {"count": 0},
        {"count": 10_001},
        {"face_value": 0},
        {"batch": "bad name!"},
        {"batch": "x" * 26},  # 26 + "-000001" would overflow the 32-character serial
    ):
        status, invalid = await admin.call("POST", "/voucher-batches", root, json=NEW | change)
        assert (status, invalid["type"]) == (400, PROBLEMS + "invalid-request"), change
    status, usd = await admin.call(
        "POST", "/voucher-batches", root, json=NEW | {"batch": "U", "currency": "USD"}
    )
    assert (status, usd["type"]) == (422, PROBLEMS + "currency-unsupported")
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    other = NEW | {"batch": "SMS-1"}
    assert (await admin.call("POST", "/voucher-batches", sms, json=other))[0] == 403
    status, unknown = await admin.call("GET", "/voucher-batches/NOPE", sms)
    assert (status, unknown["type"]) == (404, PROBLEMS + "voucher-batch-unknown")
    status, _ = await admin.call(
        "POST", "/voucher-batches/NOPE/void", sms, json={"reason": "stolen"}
    )
    assert status == 404
    _, listing = await admin.call("GET", "/voucher-batches", sms)
    assert [b["batch"] for b in listing["items"]] == ["NOV-A"]


async def test_void_stops_unredeemed_cards_and_is_audited(admin: Admin) -> None:
    """Card 2 redeemed, then the batch voided by an SMS manager: 2 cards voided, 1 kept.

    Values: total 15 000, redeemed 5 000, active 0 (15 000 - 5 000 - 2 x 5 000 void). The
    audit has the counts before (2 active, 1 redeemed) and after, the reason, and no PIN.
    Voiding again voids 0.
    """
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    _, issued = await admin.call("POST", "/voucher-batches", root, json=NEW)
    pins = [v["pin"] for v in issued["vouchers"]]
    async with admin.core.uow() as uow:
        card = await uow.vouchers.get_by_pin_hash(hmac_hex(pins[1]))
        assert card is not None
        assert card.id is not None
        assert await uow.vouchers.redeem(card.id, msisdn="254700000001", payment_id="p1", at=START)
        await uow.commit()
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    status, voided = await admin.call(
        "POST", "/voucher-batches/NOV-A/void", sms, json={"reason": "box stolen"}
    )
    assert status == 200
    assert (voided["voided"], voided["active"], voided["redeemed"], voided["void"]) == (2, 0, 1, 2)
    assert (voided["total_value"], voided["redeemed_value"], voided["active_value"]) == (
        15_000,
        5_000,
        0,
    )
    _, one = await admin.call("GET", "/voucher-batches/NOV-A", sms)
    assert [c["status"] for c in one["items"]] == ["void", "redeemed", "void"]
    assert one["items"][1]["redeemed_by"] == "254700000001"
    again = await admin.call("POST", "/voucher-batches/NOV-A/void", sms, json={"reason": "again"})
    assert (again[0], again[1]["voided"]) == (200, 0)
    _, audit = await admin.call("GET", "/audit?action=voucher_batch.void", root)
    first = audit["items"][0]
    assert first["before"] == {"active": 2, "redeemed": 1, "void": 0}
    assert first["after"] == {
        "active": 0,
        "redeemed": 1,
        "void": 2,
        "voided": 2,
        "reason": "box stolen",
    }
    assert not any(pin in json.dumps(audit) for pin in pins)
