from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.admin_api.conftest import Admin
from tests.integration.admin_api.masterdata_support import BACKENDS, admin_on
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

PROBLEMS = "https://vendgate.dev/problems/"
AGENT: dict[str, Any] = {
    "code": "AGENT-7",
    "name": "Corner shop",
    "channel": "pos",
    "credit_limit": 50_000,
    "commission": "0.025",
    "allowed_sgcs": ["123456"],
}


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Admin]:
    """The admin API with the demo data, on SQLite and on PostgreSQL."""
    async with admin_on(request) as admin:
        yield admin


async def test_create_get_list_update_with_audit(api: Admin) -> None:
    """A vendor starts with balance 0, available = 0 + 50 000; changes keep before/after.

    The demo data has DEMO-POS; listed by code: AGENT-7 before DEMO-POS.
    """
    sms = await api.token(AdminLevel.SMS_MANAGER)
    status, created = await api.call("POST", "/vendors", sms, json=AGENT)
    assert status == 201, created
    assert {k: created[k] for k in AGENT} == AGENT
    assert (created["balance"], created["available"]) == (0, 50_000)
    assert (await api.call("POST", "/vendors", sms, json=AGENT))[0] == 409
    change = {"credit_limit": 80_000, "commission": "0.03", "allowed_sgcs": ["123456", "201457"]}
    status, changed = await api.call("PATCH", "/vendors/AGENT-7", sms, json=change)
    assert (status, changed["available"], changed["commission"]) == (200, 80_000, "0.03")
    assert changed["allowed_sgcs"] == ["123456", "201457"]
    operator = await api.token(AdminLevel.OPERATOR)
    assert (await api.call("GET", "/vendors/AGENT-7", operator))[1] == changed
    assert (await api.call("GET", "/vendors/NO-SUCH", operator))[0] == 404
    assert (await api.call("PATCH", "/vendors/NO-SUCH", sms, json=change))[0] == 404
    _, listed = await api.call("GET", "/vendors?channel=pos", operator)
    assert [v["code"] for v in listed["items"]] == ["AGENT-7", "DEMO-POS"]
    _, second = await api.call("GET", "/vendors?limit=1&offset=1", operator)
    assert [v["code"] for v in second["items"]] == ["DEMO-POS"]
    root = await api.token(AdminLevel.ADMINISTRATOR)
    _, audit = await api.call("GET", "/audit?entity=vendor", root)
    assert [(e["action"], e["before"], e["after"]) for e in audit["items"]] == [
        ("vendor.create", None, created),
        ("vendor.update", created, changed),
    ]


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"allowed_sgcs": ["999999"]}, 422, "vendor-invalid"),
        ({"commission": "1"}, 400, "invalid-request"),
        ({"credit_limit": -1}, 400, "invalid-request"),
        ({"code": "lower case"}, 400, "invalid-request"),
    ],
)
async def test_invalid_vendors_are_refused(
    api: Admin, change: dict[str, Any], status: int, kind: str
) -> None:
    """An unknown supply group is 422; a commission of 100 %, a negative limit, a bad code 400."""
    sms = await api.token(AdminLevel.SMS_MANAGER)
    got, problem = await api.call("POST", "/vendors", sms, json={**AGENT, **change})
    assert (got, problem["type"]) == (status, PROBLEMS + kind)


async def test_top_up_moves_the_float_by_the_amount_once_per_reference(api: Admin) -> None:
    """DEMO-POS holds 1 000 000 c; a top-up of 25 000 c leaves 1 025 000 and one ledger entry.

    The same reference again answers the same top-up (200) and moves nothing; the reference
    with another amount is 409. An operator may not top up (403); a POS manager may.
    """
    body = {"amount": 25_000, "reference": "BANK-0001"}
    operator = await api.token(AdminLevel.OPERATOR)
    assert (await api.call("POST", "/vendors/DEMO-POS/top-ups", operator, json=body))[0] == 403
    manager = await api.token(AdminLevel.POS_MANAGER)
    status, done = await api.call("POST", "/vendors/DEMO-POS/top-ups", manager, json=body)
    assert status == 201, done
    assert (done["balance_before"], done["balance_after"]) == (1_000_000, 1_025_000)
    status, replay = await api.call("POST", "/vendors/DEMO-POS/top-ups", manager, json=body)
    assert (status, replay) == (200, {**done, "replayed": True})
    other = {"amount": 1, "reference": "BANK-0001"}
    got = await api.call("POST", "/vendors/DEMO-POS/top-ups", manager, json=other)
    assert (got[0], got[1]["type"]) == (409, PROBLEMS + "top-up-reference-used")
    unknown = await api.call("POST", "/vendors/NO-SUCH/top-ups", manager, json=body)
    assert unknown[0] == 404
    _, vendor = await api.call("GET", "/vendors/DEMO-POS", operator)
    assert vendor["balance"] == 1_025_000
    _, ledger = await api.call("GET", "/vendors/DEMO-POS/entries", operator)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger["items"]] == [
        ("top_up", 25_000, 1_025_000)
    ]
    root = await api.token(AdminLevel.ADMINISTRATOR)
    _, audit = await api.call("GET", "/audit?action=vendor.top_up", root)
    assert [(e["before"], e["after"]) for e in audit["items"]] == [
        ({"balance": 1_000_000}, {"balance": 1_025_000, "amount": 25_000, "reference": "BANK-0001"})
    ]


async def test_a_sale_after_a_top_up_is_the_next_ledger_entry(api: Admin) -> None:
    """Top up 10 000, then sell 11 500 c (demo meter 12, no commission): 1 010 000 - 11 500.

    The ledger pages oldest first: entry 2 is the sale, -11 500, leaving 998 500.
    """
    manager = await api.token(AdminLevel.POS_MANAGER)
    body = {"amount": 10_000, "reference": "CASH-1"}
    assert (await api.call("POST", "/vendors/DEMO-POS/top-ups", manager, json=body))[0] == 201
    operator = await api.token(AdminLevel.OPERATOR)
    sale = {"meter_number": DEMO_METERS[11].number, "amount": 11_500}
    headers = {"Idempotency-Key": "after-top-up"}
    assert (await api.call("POST", "/pos/vends", operator, json=sale, headers=headers))[0] == 201
    _, page = await api.call("GET", "/vendors/DEMO-POS/entries?limit=1&offset=1", operator)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in page["items"]] == [
        ("sale", -11_500, 998_500)
    ]
