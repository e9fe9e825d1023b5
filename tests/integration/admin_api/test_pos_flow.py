import json
from typing import Any

from tests.integration.admin_api.conftest import START, Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

#: Demo meter 12: SGC 201457, DKGA04, EA11, tariff BUS-FLAT (200 c/kWh, VAT 15 %, no charges).
METER = DEMO_METERS[11]


def _keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def _sell(admin: Admin, token: str, amount: int, key: str) -> tuple[int, Any]:
    body = {"meter_number": METER.number, "amount": amount}
    return await admin.call("POST", "/pos/vends", token, json=body, headers=_keyed(key))


async def _seed_sales(admin: Admin) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two POS sales on two days; the second is reversed by a POS manager."""
    operator = await admin.token(AdminLevel.OPERATOR)
    status, first = await _sell(admin, operator, 11_500, "sale-1")
    assert status == 201, first
    admin.clock.advance(days=1, hours=1)  # 2026-11-26 10:00 UTC: yesterday's tokens expired
    admin.tokens.clear()
    operator = await admin.token(AdminLevel.OPERATOR)
    status, second = await _sell(admin, operator, 2_300, "sale-2")
    assert status == 201, second
    reversal = {"vend_id": second["vend_id"], "reason": "customer paid twice"}
    status, reversed_ = await admin.call(
        "POST", "/pos/reversals", await admin.token(AdminLevel.POS_MANAGER), json=reversal
    )
    assert (status, reversed_["status"]) == (200, "reversed"), reversed_
    return first, second


async def test_pos_vends_load_on_the_reference_meter_and_replay_the_same_token(
    admin: Admin,
) -> None:
    """11 500 c = 10 000 c + 15 % VAT buys 10 000 / 200 = 50.0 kWh; 2 300 c buys 10.0 kWh.

    Both tokens are accepted by the STS reference meter with those amounts; the same
    Idempotency-Key replays the same receipt (200, same token) instead of selling again.
    """
    first, second = await _seed_sales(admin)
    meter = METER.reference_meter()
    assert [t["tenths"] for t in first["tokens"]] == [500]
    assert [t["tenths"] for t in second["tokens"]] == [100]
    for receipt in (first, second):
        assert meter.enter(receipt["tokens"][0]["token"]).accepted
    assert meter.credit_tenths() == 600
    status, replay = await _sell(admin, await admin.token(AdminLevel.OPERATOR), 11_500, "sale-1")
    assert status == 200
    assert replay["tokens"] == first["tokens"]
    assert replay["vend_id"] == first["vend_id"]


async def test_reprint_returns_the_stored_tokens(admin: Admin) -> None:
    """A reprint shows the two sales' stored tokens, oldest first, and mints nothing."""
    first, second = await _seed_sales(admin)
    operator = await admin.token(AdminLevel.OPERATOR)
    body = {"meter_number": METER.number}
    status, reprinted = await admin.call("POST", "/pos/reprints", operator, json=body)
    assert status == 200
    by_id = {v["vend_id"]: v["tokens"] for v in reprinted["vends"]}
    assert by_id == {first["vend_id"]: first["tokens"], second["vend_id"]: second["tokens"]}


async def test_audit_log_records_exactly_those_operations_without_secrets(admin: Admin) -> None:
    """Audit: two pos.vend (operator), one pos.reverse (POS manager) with before/after.

    The replayed sale adds no entry; tokens and passwords appear nowhere in the log.
    """
    first, second = await _seed_sales(admin)
    operator = await admin.token(AdminLevel.OPERATOR)
    await _sell(admin, operator, 11_500, "sale-1")  # replay
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    status, page = await admin.call("GET", "/audit?entity=vend", root)
    assert status == 200
    entries = page["items"]
    assert [(e["action"], int(e["entity_id"])) for e in entries] == [
        ("pos.vend", first["vend_id"]),
        ("pos.vend", second["vend_id"]),
        ("pos.reverse", second["vend_id"]),
    ]
    me = {lv: (await admin.call("GET", "/me", await admin.token(lv)))[1]["id"] for lv in AdminLevel}
    assert [e["user_id"] for e in entries] == [me[AdminLevel.OPERATOR]] * 2 + [
        me[AdminLevel.POS_MANAGER]
    ]
    assert entries[0]["after"] == {
        "vend_id": first["vend_id"],
        "meter": METER.number,
        "gross": 11_500,
        "status": "completed",
    }
    assert entries[2]["before"] == {"status": "completed"}
    assert entries[2]["after"]["reason"] == "customer paid twice"
    assert all(e["remote"] == "127.0.0.1" for e in entries)
    assert entries[0]["at"] == START.isoformat()
    everything = json.dumps((await admin.call("GET", "/audit?limit=200", root))[1])
    for receipt in (first, second):
        assert receipt["tokens"][0]["token"] not in everything
    assert "correct horse" not in everything
    assert "scrypt$" not in everything


async def test_audit_filters_and_pages(admin: Admin) -> None:
    """Filter by action, user and period; limit/offset page through in order."""
    await _seed_sales(admin)
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    _, vends = await admin.call("GET", "/audit?action=pos.vend", root)
    assert [e["action"] for e in vends["items"]] == ["pos.vend", "pos.vend"]
    operator_id = vends["items"][0]["user_id"]
    _, mine = await admin.call("GET", f"/audit?user_id={operator_id}&action=pos.vend", root)
    assert len(mine["items"]) == 2
    period = "from=2026-11-26T00:00:00%2B00:00&to=2026-11-27T00:00:00%2B00:00&entity=vend"
    _, day_two = await admin.call("GET", f"/audit?{period}", root)
    assert [e["action"] for e in day_two["items"]] == ["pos.vend", "pos.reverse"]
    _, page = await admin.call("GET", "/audit?entity=vend&limit=1&offset=1", root)
    assert [e["action"] for e in page["items"]] == ["pos.vend"]
    assert page["items"][0]["at"].startswith("2026-11-26")


async def test_sales_report_totals_match_hand_computed_sums(admin: Admin) -> None:
    """Seeded: 11 500 c on 25 Nov; 2 300 c on 26 Nov, reversed. Vendor DEMO-POS, channel pos.

    By day: 25 Nov 1 sale 11 500; 26 Nov 1 sale 2 300, 1 reversal 2 300. Totals: 2 sales,
    13 800 gross, 2 300 reversed. The demo vendor has no commission (0).
    """
    await _seed_sales(admin)
    manager = await admin.token(AdminLevel.POS_MANAGER)
    period = "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
    status, by_day = await admin.call("GET", f"/reports/sales?{period}&by=day", manager)
    assert status == 200
    assert by_day["items"] == [
        {
            "key": "2026-11-25",
            "sales": 1,
            "gross": 11_500,
            "commission": 0,
            "reversals": 0,
            "reversed_gross": 0,
        },
        {
            "key": "2026-11-26",
            "sales": 1,
            "gross": 2_300,
            "commission": 0,
            "reversals": 1,
            "reversed_gross": 2_300,
        },
    ]
    assert by_day["totals"] == {
        "sales": 2,
        "gross": 13_800,
        "commission": 0,
        "reversals": 1,
        "reversed_gross": 2_300,
    }
    _, by_vendor = await admin.call("GET", f"/reports/sales?{period}&by=vendor", manager)
    assert [(i["key"], i["sales"], i["gross"]) for i in by_vendor["items"]] == [
        ("DEMO-POS", 2, 13_800)
    ]
    _, by_channel = await admin.call("GET", f"/reports/sales?{period}&by=channel", manager)
    assert [(i["key"], i["reversed_gross"]) for i in by_channel["items"]] == [("pos", 2_300)]
    one_day = "from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z"
    _, day = await admin.call("GET", f"/reports/sales?{one_day}&by=day", manager)
    assert [i["gross"] for i in day["items"]] == [2_300]
    status, csv_text = await admin.call(
        "GET", f"/reports/sales?{period}&by=day&format=csv", manager
    )
    assert status == 200
    assert csv_text.splitlines() == [
        "key,sales,gross,commission,reversals,reversed_gross",
        "2026-11-25,1,11500,0,0,0",
        "2026-11-26,1,2300,0,1,2300",
    ]


async def test_blocking_a_meter_stops_pos_sales_and_is_audited(admin: Admin) -> None:
    """An SMS manager blocks the meter: a sale is 409 meter-blocked; unblocking allows it."""
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    path = f"/meters/{METER.number}"
    status, _ = await admin.call("POST", path + "/block", sms, json={"reason": "tamper"})
    assert status == 200
    operator = await admin.token(AdminLevel.OPERATOR)
    status, problem = await _sell(admin, operator, 11_500, "blocked-1")
    assert (status, problem["type"]) == (409, "https://vendgate.dev/problems/meter-blocked")
    assert (await admin.call("POST", path + "/unblock", sms, json={"reason": "fixed"}))[0] == 200
    assert (await _sell(admin, operator, 11_500, "after-1"))[0] == 201
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    _, page = await admin.call("GET", "/audit?entity=meter", root)
    assert [(e["action"], e["after"]["status"]) for e in page["items"]] == [
        ("meter.block", "blocked"),
        ("meter.unblock", "active"),
    ]


async def test_reversal_needs_a_reason_and_a_pos_vend_needs_a_key(admin: Admin) -> None:
    """A blank reason is 400; a vend without Idempotency-Key is 400; nothing is sold."""
    manager = await admin.token(AdminLevel.POS_MANAGER)
    body = {"vend_id": 1, "reason": "   "}
    assert (await admin.call("POST", "/pos/reversals", manager, json=body))[0] == 400
    operator = await admin.token(AdminLevel.OPERATOR)
    body2 = {"meter_number": METER.number, "amount": 11_500}
    status, problem = await admin.call("POST", "/pos/vends", operator, json=body2)
    assert (status, problem["type"]) == (
        400,
        "https://vendgate.dev/problems/idempotency-key-required",
    )
