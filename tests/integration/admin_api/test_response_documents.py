"""Every success answer the admin OpenAPI document declares is given, and fits it (issue 6).

The schemathesis property test (``tests/e2e/test_admin_schemathesis.py``) checks the answers
that random requests get, and most random bodies are refused (400/404): a tariff created, a
meter replaced, an engineering token, a replayed top-up are seldom or never among them. Here
one realistic session, on SQLite and on PostgreSQL, makes every route give every success
status and media type that :data:`admin_api.responses.RESPONSES` declares, and checks each
answer against the document the API itself serves (``GET /openapi.json``): the status is
declared for the operation, the media type for that status, and the body validates against
that schema with a JSON Schema 2020-12 validator (``jsonschema_rs``, the one schemathesis
uses; formats checked, so every ``date-time`` must carry an offset). The response models
forbid unknown fields, so a field a handler adds without the document fails here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from jsonschema_rs import Draft202012Validator

from admin_api.app import create_admin_app
from admin_api.context import ADMIN_CORE
from admin_api.openapi import OPERATIONS
from admin_api.responses import RESPONSES, responses_of
from admin_api.vouchers import VOUCHER_ISSUER, VoucherIssuer
from tests.integration.admin_api.conftest import KEK, START, Admin
from tests.support.core_world import Clock
from vending_core.adapters.compose import sql_core
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS, load_demo_data

JSON: Final = "application/json"
CSV: Final = "text/csv"
#: Demo meter 1: RES-BLOCK, registered for FBE, owes R150.00 (25 % recovered per purchase).
DEBTOR = DEMO_METERS[0].number
#: Demo meter 12: BUS-FLAT (200 c/kWh + 15 % VAT), EA11.
FLAT = DEMO_METERS[11].number
#: DRN 5432109876 + Luhn digit. Reversed 6,7,8,9,0,1,2,3,4,5; doubling 6,8,0,2,4 gives
#: 12,16,0,4,8 -> digit sums 3+7+0+4+8 = 22; the others 7+9+1+3+5 = 25; 47 -> (10 - 7) = 3.
NEW_NUMBER = "54321098763"
#: DRN 1234567890 + Luhn digit. Reversed 0,9,8,7,6,5,4,3,2,1; doubling 0,8,6,4,2 gives
#: 0,16,12,8,4 -> digit sums 0+7+3+8+4 = 22; the others 9+7+5+3+1 = 25; 47 -> (10 - 7) = 3.
SPARE_NUMBER = "12345678903"
SGC = "654321"
#: The grouped reports, each asked as JSON and as CSV over the test day.
GROUPED = [
    name for name in OPERATIONS if name.startswith("reports.") and name != "reports.abnormal"
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite copy, or the session's PostgreSQL database emptied for this test."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    request.getfixturevalue("postgres_engine")  # truncates every table
    return str(request.getfixturevalue("migrated_postgres_url"))


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Admin]:
    """The admin API with the demo utility and a voucher issuer (KES cards)."""
    clock = Clock(START)
    async with sql_core(database_url, KEK, clock=clock, pool_size=4) as core:
        await load_demo_data(core)
        parent = web.Application()
        parent[ADMIN_CORE] = core
        parent[VOUCHER_ISSUER] = VoucherIssuer(b"test voucher salt", "KES")
        parent.add_subapp("/admin/v1", create_admin_app())
        async with TestServer(parent) as server, aiohttp.ClientSession() as http:
            yield Admin(core, clock, str(server.make_url("/admin/v1")), http)


@dataclass
class Documented:
    """Calls routes by name and checks each answer against the served document."""

    admin: Admin
    document: dict[str, Any]
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    async def answer(
        self,
        name: str,
        status: int,
        token: str | None,
        args: Mapping[str, object] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call route ``name`` (path ``args``), expect ``status``; the body, checked."""
        op = OPERATIONS[name]
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = self.admin.base + op.path.format(**(args or {}))
        async with self.admin.http.request(op.method, url, headers=headers, **kwargs) as r:
            got, media, text = r.status, r.content_type, await r.text()
        assert got == status, (name, got, text)
        declared = self.document["paths"][op.path][op.method]["responses"]
        assert str(status) in declared, (name, status, "status not declared")
        content = declared[str(status)].get("content")
        if content is None:  # a declared empty answer (204)
            assert text == ""
            self.seen.add((name, str(status), ""))
            return None
        assert media in content, (name, status, media, "media type not declared")
        body = json.loads(text) if media == JSON else text
        schema = {**content[media]["schema"], "components": self.document["components"]}
        validator = Draft202012Validator(schema, validate_formats=True)
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert errors == [], (name, status, errors)
        self.seen.add((name, str(status), media))
        return body


def _declared() -> set[tuple[str, str, str]]:
    """Every (route, success status, media type) the document declares ('' for no body)."""
    return {
        (name, status, media)
        for name, spec in RESPONSES.items()
        for status, content in spec.items()
        for media in (list(content) or [""])
    }


def test_every_operation_declares_its_success_answers() -> None:
    """No operation is left as a bare ``2XX``: each names its statuses and, but for 204, a body.

    65 operations at the time of writing; the count is not pinned (routes are being added),
    only that ``RESPONSES`` and ``OPERATIONS`` name the same routes.
    """
    assert set(RESPONSES) == set(OPERATIONS)
    for name in OPERATIONS:
        responses = responses_of(name)
        assert "2XX" not in responses, name
        for status, response in responses.items():
            if status.startswith("2") and status != "204":
                assert response["content"], (name, status)


async def _accounts(d: Documented, root: str) -> None:
    """Logging in and out, users, API keys, the audit log."""
    login = {"username": AdminLevel.ADMINISTRATOR.label, "password": "correct horse battery"}
    session = await d.answer("login", 200, None, json=login)
    await d.answer("me", 200, session["token"])
    await d.answer("logout", 204, session["token"])
    clerk = {"username": "clerk", "password": "a long enough password", "level": "operator"}
    user = await d.answer("users.create", 201, root, json=clerk)
    await d.answer("users.update", 200, root, {"user_id": user["id"]}, json={"area": "DEMO-POS"})
    await d.answer("users.disable", 200, root, {"user_id": user["id"]})
    await d.answer("users.list", 200, root)
    await d.answer("api_keys.create", 201, root, json={"name": "billing"})
    await d.answer("audit.list", 200, root)


async def _customers_and_meters(d: Documented, root: str) -> None:
    """Customers, and meters read, (un)blocked, installed, assigned, replaced; their debts."""
    customer = {"account_number": "ACC-1", "name": "Amina", "phones": ["+254700000001"]}
    made = await d.answer("customers.create", 201, root, json=customer)
    one = {"customer_id": made["id"]}
    await d.answer("customers.update", 200, root, one, json={"address": "Plot 7"})
    await d.answer("customers.get", 200, root, one)
    await d.answer("customers.list", 200, root)
    await d.answer("meters.list", 200, root)
    await d.answer("meters.get", 200, root, {"number": FLAT})
    spare = {"number": DEMO_METERS[5].number}
    await d.answer("meters.block", 200, root, spare, json={"reason": "tampered"})
    await d.answer("meters.unblock", 200, root, spare, json={"reason": "repaired"})
    key_data = {"number": NEW_NUMBER, "sgc": SGC, "ti": 1, "krn": 1, "ea": 7}
    await d.answer("meters.install", 201, root, json={**key_data, "tariff_code": "FLAT-100"})
    new = {"number": NEW_NUMBER}
    await d.answer("meters.update", 200, root, new, json={"customer_id": made["id"]})
    spare_meter = {**key_data, "number": SPARE_NUMBER}
    body = {"new_meter": spare_meter, "reason": "burnt"}
    replaced = await d.answer("meters.replace", 201, root, new, json=body)
    assert (replaced["old_meter"]["status"], replaced["old_meter"]["replaced_by"]) == (
        "replaced",
        SPARE_NUMBER,
    )
    debt = {"description": "tamper fine", "outstanding": 5_000, "mode": "fixed", "value": "1000"}
    owed = await d.answer("debts.create", 201, root, {"number": SPARE_NUMBER}, json=debt)
    await d.answer("debts.update", 200, root, {"debt_id": owed["id"]}, json={"outstanding": 0})
    await d.answer("debts.list", 200, root, {"number": SPARE_NUMBER})


async def _tariffs_and_groups(d: Documented, root: str) -> None:
    """Tariffs (with a fixed charge, then a block version) and a supply group with its key."""
    tariff = {
        "code": "FLAT-100",
        "name": "Flat",
        "blocks": [{"rate": "100"}],
        "fixed_charge": {"amount": 1_000, "period": "day"},
    }
    await d.answer("tariffs.create", 201, root, json=tariff)
    blocks = [{"up_to_tenths": 1_000, "rate": "100"}, {"rate": "150"}]
    version = {"name": "Flat 2", "blocks": blocks, "max_purchase": 100_000}
    await d.answer("tariffs.add_version", 201, root, {"code": "FLAT-100"}, json=version)
    await d.answer("tariffs.list", 200, root, params={"all_versions": "true"})
    history = await d.answer("tariffs.get", 200, root, {"code": "FLAT-100"})
    assert [v["version"] for v in history["versions"]] == [1, 2]  # created, then one added
    group = {"sgc": SGC, "name": "North", "dkga": 2}
    await d.answer("supply_groups.create", 201, root, json=group)
    key = {"key": "0123456789ABCDEF"}  # a DKGA02 vending key: 8 bytes
    await d.answer("supply_groups.set_key", 201, root, {"sgc": SGC, "krn": 1}, json=key)
    await d.answer("supply_groups.get", 200, root, {"sgc": SGC})
    await d.answer("supply_groups.list", 200, root)


async def _vendors(d: Documented, root: str) -> None:
    """A vendor created, changed, topped up (then the same reference again), read, listed."""
    vendor = {"code": "AGENT-1", "name": "Agent", "channel": "agent", "commission": "0.02"}
    await d.answer("vendors.create", 201, root, json={**vendor, "allowed_sgcs": ["123456"]})
    code = {"code": "AGENT-1"}
    await d.answer("vendors.update", 200, root, code, json={"credit_limit": 2_000})
    top_up = {"amount": 5_000, "reference": "T-1"}
    first = await d.answer("vendors.top_up", 201, root, code, json=top_up)
    again = await d.answer("vendors.top_up", 200, root, code, json=top_up)
    # 0 + 5 000 once: the replay answers the first top-up and moves nothing
    assert (first["balance_after"], first["replayed"]) == (5_000, False)
    assert (again["balance_after"], again["replayed"]) == (5_000, True)
    got = await d.answer("vendors.get", 200, root, code)
    assert got["available"] == 7_000  # balance 5 000 + credit limit 2 000
    await d.answer("vendors.list", 200, root)
    await d.answer("vendors.entries", 200, root, code)


def _key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def _selling_shift(d: Documented, root: str, op: str) -> None:
    """A shift: quotes, sales (one replayed), a reprint, a reversal, the report, closing."""
    shift = await d.answer("shifts.open", 201, op)
    await d.answer("pos.quote", 200, op, json={"meter_number": FLAT, "amount": 11_500})
    sale = {"meter_number": FLAT, "amount": 11_500}
    await d.answer("pos.vend", 201, op, json=sale, headers=_key("s-1"))
    await d.answer("pos.vend", 200, op, json=sale, headers=_key("s-1"))
    debtor = {"meter_number": DEBTOR, "amount": 20_000}
    await d.answer("pos.vend", 201, op, json=debtor, headers=_key("s-2"))
    sold = await d.answer("pos.vend", 201, op, json=sale, headers=_key("s-3"))
    await d.answer("pos.reprint", 200, op, json={"meter_number": FLAT})
    reversal = {"vend_id": sold["vend_id"], "reason": "wrong meter"}
    await d.answer("pos.reverse", 200, root, json=reversal)
    one = {"shift_id": shift["id"]}
    await d.answer("shifts.report", 200, op, one)
    await d.answer("shifts.close", 200, op, one)
    await d.answer("shifts.list", 200, op)


async def _field_work(d: Documented, root: str, op: str) -> None:
    """Engineering and key-change tokens (each replayed), a maintenance request's life."""
    clear = {"meter_number": FLAT, "kind": "clear_tamper"}
    await d.answer("engineering.token", 201, root, json=clear, headers=_key("e-1"))
    await d.answer("engineering.token", 200, root, json=clear, headers=_key("e-1"))
    flat = {"number": FLAT}
    await d.answer("meters.key_change", 201, root, flat, json={"to_ti": 2}, headers=_key("k-1"))
    await d.answer("meters.key_change", 200, root, flat, json={"to_ti": 2}, headers=_key("k-1"))
    fault = {"meter_number": DEBTOR, "description": "Display blank"}
    item = await d.answer("maintenance.open", 201, op, json=fault)
    one = {"maintenance_id": item["id"]}
    await d.answer("maintenance.assign", 200, root, one, json={"engineer": "Juma"})
    await d.answer("maintenance.resolve", 200, root, one, json={"solution": "New display"})
    await d.answer("maintenance.list", 200, op)


async def _vouchers(d: Documented, root: str) -> None:
    """Two batches issued (JSON, then CSV for the printer), listed, read, one voided."""
    batch = {"batch": "NOV-A", "count": 2, "face_value": 5_000}
    await d.answer("voucher_batches.create", 201, root, json=batch)
    printed = await d.answer(
        "voucher_batches.create",
        201,
        root,
        json={**batch, "batch": "NOV-B"},
        params={"format": "csv"},
    )
    assert printed.splitlines()[0] == "serial,pin"
    await d.answer("voucher_batches.list", 200, root)
    await d.answer("voucher_batches.get", 200, root, {"batch": "NOV-A"})
    void = {"reason": "printed twice"}
    voided = await d.answer("voucher_batches.void", 200, root, {"batch": "NOV-B"}, json=void)
    assert voided["voided"] == 2  # both cards of NOV-B were unredeemed


async def _reports(d: Documented, root: str) -> None:
    """Every grouped report as JSON and CSV over the test day, grouped per day."""
    day = {"from": "2026-11-25T00:00:00+00:00", "to": "2026-11-26T00:00:00+00:00"}
    for name in GROUPED:
        report = await d.answer(name, 200, root, params=day)
        assert report["by"] == "day"
        await d.answer(name, 200, root, params={**day, "format": "csv"})


async def _idle_meters(d: Documented) -> None:
    """Two days on, meters idle for a day: the meter sold today is 2 days idle."""
    d.admin.clock.advance(days=2)  # every token has expired (8 hours): log in again
    d.admin.tokens.clear()
    root = await d.admin.token(AdminLevel.ADMINISTRATOR)
    idle = await d.answer("reports.abnormal", 200, root, params={"days": 1})
    days = {item["meter_number"]: item["idle_days"] for item in idle["items"]}
    assert days[FLAT] == 2  # sold at START, asked at START + 2 days
    assert days[DEMO_METERS[1].number] is None  # never sold to
    await d.answer("reports.abnormal", 200, root, params={"days": 1, "format": "csv"})


@pytest.mark.slow
async def test_every_declared_answer_is_given_and_fits_the_document(admin: Admin) -> None:
    """Each route answers each declared success status and media type, as the document says.

    The document is the one served at ``GET /openapi.json`` (itself checked: 200, JSON).
    At the end the answers seen are exactly the declared ones: none is left unexercised.
    """
    served = await admin.call("GET", "/openapi.json")
    document = Documented(admin, served[1])
    await document.answer("openapi", 200, None)
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    op = await admin.token(AdminLevel.OPERATOR)
    await _accounts(document, root)
    await _tariffs_and_groups(document, root)
    await _customers_and_meters(document, root)
    await _vendors(document, root)
    await _selling_shift(document, root, op)
    await _field_work(document, root, op)
    await _vouchers(document, root)
    await _reports(document, root)
    await _idle_meters(document)
    assert document.seen == _declared()
