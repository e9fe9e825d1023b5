import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import sts
from tests.integration.admin_api.conftest import Admin
from tests.integration.admin_api.masterdata_support import BACKENDS, admin_on
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

PROBLEMS = "https://vendgate.dev/problems/"
SGC = "654321"
KEY_HEX = "0123456789ABCDEF"  # a DKGA02 vending key: 8 bytes
#: DRN 5432109876 + Luhn digit. Reversed 6,7,8,9,0,1,2,3,4,5; doubling 6,8,0,2,4 gives
#: 12,16,0,4,8 -> digit sums 3+7+0+4+8 = 22; the others 7+9+1+3+5 = 25; 47 -> (10 - 7) = 3.
NUMBER = "54321098763"
#: 600727 + DRN + Luhn over those 17 digits: doubled digit sums 36, others 34, 70 -> 0.
PAN = "600727543210987630"
NEW_METER: dict[str, Any] = {"number": NUMBER, "sgc": SGC, "ti": 1, "krn": 1, "ea": 7}


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Admin]:
    """The admin API with the demo data, on SQLite and on PostgreSQL."""
    async with admin_on(request) as admin:
        yield admin


async def _group_with_key(api: Admin) -> None:
    sms = await api.token(AdminLevel.SMS_MANAGER)
    group = {"sgc": SGC, "name": "North", "dkga": 2}
    assert (await api.call("POST", "/supply-groups", sms, json=group))[0] == 201
    root = await api.token(AdminLevel.ADMINISTRATOR)
    path = f"/supply-groups/{SGC}/keys/1"
    status, body = await api.call("PUT", path, root, json={"key": KEY_HEX})
    assert (status, body) == (201, {"sgc": SGC, "krn": 1, "key_stored": True})


async def test_supply_group_create_get_list_and_the_key_is_never_echoed(api: Admin) -> None:
    """A group is created (409 twice); its key is stored once (409 again, 422 wrong length).

    The key's hex (in any case) appears in no response and no audit entry; the audit keeps
    only that revision 1 got a key. Uploading needs an administrator (403 for SMS manager).
    """
    sms = await api.token(AdminLevel.SMS_MANAGER)
    path = f"/supply-groups/{SGC}/keys/1"
    assert (await api.call("PUT", path, sms, json={"key": KEY_HEX}))[0] == 403
    await _group_with_key(api)
    seen: list[Any] = []
    group = {"sgc": SGC, "name": "North", "dkga": 2}
    seen.append(await api.call("POST", "/supply-groups", sms, json=group))
    assert seen[-1][0] == 409
    root = await api.token(AdminLevel.ADMINISTRATOR)
    seen.append(await api.call("PUT", path, root, json={"key": KEY_HEX.lower()}))
    assert (seen[-1][0], seen[-1][1]["type"]) == (409, PROBLEMS + "vending-key-exists")
    seen.append(
        await api.call("PUT", f"/supply-groups/{SGC}/keys/2", root, json={"key": "AB" * 20})
    )
    assert (seen[-1][0], seen[-1][1]["type"]) == (422, PROBLEMS + "vending-key-invalid")
    seen.append(await api.call("PUT", "/supply-groups/999999/keys/1", root, json={"key": KEY_HEX}))
    assert seen[-1][0] == 404
    operator = await api.token(AdminLevel.OPERATOR)
    seen.append(await api.call("GET", f"/supply-groups/{SGC}", operator))
    assert seen[-1][1] == {
        "sgc": SGC,
        "name": "North",
        "dkga": 2,
        "key_revision": 1,
        "base_date": 2014,
        "key_ref": f"{SGC}:1",
        "key_stored": True,
    }
    seen.append(await api.call("GET", "/supply-groups", operator))
    assert [g["sgc"] for g in seen[-1][1]["items"]] == ["123456", "201457", SGC]
    seen.append(await api.call("GET", "/audit?limit=200", root))
    key_entries = [e for e in seen[-1][1]["items"] if e["action"] == "supply_group.key_set"]
    assert [(e["entity_id"], e["after"]) for e in key_entries] == [
        (SGC, {"sgc": SGC, "krn": 1, "key_stored": True})
    ]
    everything = json.dumps(seen).upper()
    assert KEY_HEX not in everything


async def test_an_installed_meter_is_sold_to_and_its_token_loads(api: Admin) -> None:
    """Install on a new group and a new flat tariff of 100 c/kWh (VAT 15 %), then sell.

    1 150 c = 1 000 net + 150 VAT buys 1 000 / 100 = 10.0 kWh: the token carries 100 tenths
    and the STS reference meter built from the same key data accepts it.
    """
    await _group_with_key(api)
    sms = await api.token(AdminLevel.SMS_MANAGER)
    tariff = {"code": "FLAT-100", "name": "Flat", "blocks": [{"rate": "100"}]}
    assert (await api.call("POST", "/tariffs", sms, json=tariff))[0] == 201
    status, meter = await api.call(
        "POST", "/meters", sms, json={**NEW_METER, "tariff_code": "FLAT-100", "customer_id": 1}
    )
    assert status == 201, meter
    assert (meter["pan"], meter["dkga"], meter["status"]) == (PAN, 2, "active")
    operator = await api.token(AdminLevel.OPERATOR)
    sale = {"meter_number": NUMBER, "amount": 1_150}
    status, receipt = await api.call(
        "POST", "/pos/vends", operator, json=sale, headers={"Idempotency-Key": "new-1"}
    )
    assert status == 201, receipt
    assert [t["tenths"] for t in receipt["tokens"]] == [100]
    reference = sts.Meter.provision(
        vending_key=bytes.fromhex(KEY_HEX),
        dkga=2,
        pan=sts.Pan.parse(NUMBER),
        sgc=SGC,
        ti=1,
        krn=1,
        kt=sts.KeyType.DUTK,
        base_date=2014,
        ea=7,
    )
    assert reference.enter(receipt["tokens"][0]["token"]).accepted
    assert reference.credit_tenths() == 100
    root = await api.token(AdminLevel.ADMINISTRATOR)
    _, audit = await api.call("GET", "/audit?action=meter.install", root)
    assert [(e["entity_id"], e["after"]) for e in audit["items"]] == [(NUMBER, meter)]


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"number": "54321098760"}, 400, "meter-number-invalid"),  # check digit 3, not 0
        ({"number": DEMO_METERS[0].number}, 409, "meter-exists"),
        ({"sgc": "111111"}, 404, "supply-group-unknown"),
        ({"tariff_code": "NO-SUCH"}, 422, "meter-invalid"),
        ({"ea": 11}, 422, "meter-key-data-invalid"),  # DKGA02 keys are 64-bit: EA07 only
        ({"customer_id": 999_999}, 422, "meter-invalid"),
        ({"ti": 100}, 400, "invalid-request"),
    ],
)
async def test_an_invalid_installation_is_refused(
    api: Admin, change: dict[str, Any], status: int, kind: str
) -> None:
    """Bad check digit, taken number, unknown group/tariff/customer, EA11 on DKGA02, TI 100."""
    await _group_with_key(api)
    sms = await api.token(AdminLevel.SMS_MANAGER)
    body = {**NEW_METER, "tariff_code": "BUS-FLAT", **change}
    got, problem = await api.call("POST", "/meters", sms, json=body)
    assert (got, problem["type"]) == (status, PROBLEMS + kind), problem


async def test_assign_and_change_tariff_are_audited_before_and_after(api: Admin) -> None:
    """Demo meter 12 (customer 12, BUS-FLAT) goes to customer 3 on RES-BLOCK, then to none."""
    sms = await api.token(AdminLevel.SMS_MANAGER)
    path = f"/meters/{DEMO_METERS[11].number}"
    body = {"customer_id": 3, "tariff_code": "RES-BLOCK"}
    status, changed = await api.call("PATCH", path, sms, json=body)
    assert (status, changed["customer_id"], changed["tariff_code"]) == (200, 3, "RES-BLOCK")
    status, unassigned = await api.call("PATCH", path, sms, json={"customer_id": None})
    assert (status, unassigned["customer_id"], unassigned["tariff_code"]) == (
        200,
        None,
        "RES-BLOCK",
    )
    assert (await api.call("PATCH", path, sms, json={}))[0] == 400
    assert (await api.call("PATCH", path, sms, json={"tariff_code": "NO-SUCH"}))[0] == 422
    assert (await api.call("PATCH", f"/meters/{NUMBER}", sms, json=body))[0] == 404
    root = await api.token(AdminLevel.ADMINISTRATOR)
    _, audit = await api.call("GET", "/audit?action=meter.update", root)
    first, second = audit["items"]
    assert (first["before"]["customer_id"], first["before"]["tariff_code"]) == (12, "BUS-FLAT")
    assert first["after"] == changed
    assert (second["before"], second["after"]) == (changed, unassigned)


async def test_replacement_moves_customer_tariff_and_debt_and_retires_the_old_meter(
    api: Admin,
) -> None:
    """Demo meter 1 (customer 1, RES-BLOCK, FBE, R150.00 arrears) is replaced by a new meter.

    The new one has customer 1, RES-BLOCK, FBE and the 15 000 c debt; the old one is
    ``replaced`` with no customer: a sale to it is 409 and it cannot be unblocked.
    """
    await _group_with_key(api)
    sms = await api.token(AdminLevel.SMS_MANAGER)
    old = DEMO_METERS[0].number
    body = {"new_meter": NEW_METER, "reason": "burnt"}
    status, done = await api.call("POST", f"/meters/{old}/replace", sms, json=body)
    assert status == 201, done
    new = done["new_meter"]
    assert (new["customer_id"], new["tariff_code"], new["fbe_registered"]) == (1, "RES-BLOCK", True)
    gone = done["old_meter"]
    assert (gone["status"], gone["customer_id"], gone["replaced_by"]) == ("replaced", None, NUMBER)
    assert gone["blocked_reason"] == f"replaced by {NUMBER}: burnt"
    operator = await api.token(AdminLevel.OPERATOR)
    _, debts = await api.call("GET", f"/meters/{NUMBER}/debts", operator)
    assert [(d["outstanding"], d["mode"], d["value"]) for d in debts["items"]] == [
        (15_000, "percent", "0.25")
    ]
    assert (await api.call("GET", f"/meters/{old}/debts", operator))[1]["items"] == []
    sale = {"meter_number": old, "amount": 11_500}
    status, problem = await api.call(
        "POST", "/pos/vends", operator, json=sale, headers={"Idempotency-Key": "old-1"}
    )
    assert (status, problem["type"]) == (409, PROBLEMS + "meter-blocked")
    assert (await api.call("POST", f"/meters/{old}/unblock", sms, json={"reason": "x"}))[0] == 409
    again = await api.call("POST", f"/meters/{old}/replace", sms, json=body)
    assert (again[0], again[1]["type"]) == (409, PROBLEMS + "meter-replaced")
    _, replaced = await api.call("GET", "/meters?status=replaced", operator)
    assert [m["number"] for m in replaced["items"]] == [old]


async def test_debts_list_create_and_write_off_with_audit(api: Admin) -> None:
    """Demo meter 2 has no debt; add 5 000 c recovered 1 000 c per sale, then write it off."""
    sms = await api.token(AdminLevel.SMS_MANAGER)
    number = DEMO_METERS[1].number
    body = {"description": "tamper fine", "outstanding": 5_000, "mode": "fixed", "value": "1000"}
    status, debt = await api.call("POST", f"/meters/{number}/debts", sms, json=body)
    assert status == 201, debt
    assert (debt["outstanding"], debt["mode"], debt["value"]) == (5_000, "fixed", "1000")
    bad = {**body, "mode": "percent", "value": "1.5"}
    got = await api.call("POST", f"/meters/{number}/debts", sms, json=bad)
    assert (got[0], got[1]["type"]) == (422, PROBLEMS + "debt-invalid")
    status, written_off = await api.call(
        "PATCH", f"/debts/{debt['id']}", sms, json={"outstanding": 0}
    )
    assert (status, written_off["outstanding"], written_off["value"]) == (200, 0, "1000")
    assert (await api.call("PATCH", "/debts/999999", sms, json={"outstanding": 0}))[0] == 404
    operator = await api.token(AdminLevel.OPERATOR)
    _, listed = await api.call("GET", f"/meters/{number}/debts", operator)
    assert listed["items"] == [written_off]
    root = await api.token(AdminLevel.ADMINISTRATOR)
    _, audit = await api.call("GET", "/audit?entity=debt", root)
    assert [(e["action"], e["before"], e["after"]) for e in audit["items"]] == [
        ("debt.create", None, debt),
        ("debt.update", debt, written_off),
    ]
