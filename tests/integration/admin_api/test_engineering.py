"""Engineering tokens and key changes through ``/admin/v1`` (SMS managers and above).

Every token is checked on the STS reference meter (``sts.Meter``) keyed like the demo meter:
the meter accepts it and does what it says. Both routes are idempotent with the
``Idempotency-Key`` header, and their audit entries never hold token digits.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import sts
from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.core import key_ref_for
from vending_core.service.demo_data import DEMO_METERS

R = sts.MeterResult
#: Demo meter 12: SGC 201457, DKGA04, EA11 (4-token key change sets), BUS-FLAT (200 c/kWh,
#: VAT 15 %, no fixed charge).
EA11 = DEMO_METERS[11]
#: Demo meter 8: SGC 201457, DKGA04, EA07 (2-token key change sets), RES-BLOCK.
EA07 = DEMO_METERS[7]
NEW_KEY = bytes(range(1, 21))  #: a 160-bit vending key for SGC 201457 revision 2


def _keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


async def _engineering(admin: Admin, key: str, **body: Any) -> tuple[int, Any]:
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    return await admin.call("POST", "/engineering/tokens", sms, json=body, headers=_keyed(key))


async def _key_change(admin: Admin, number: str, key: str, **body: Any) -> tuple[int, Any]:
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    path = f"/meters/{number}/key-change"
    return await admin.call("POST", path, sms, json=body, headers=_keyed(key))


async def _sell(admin: Admin, number: str, amount: int, key: str) -> dict[str, Any]:
    operator = await admin.token(AdminLevel.OPERATOR)
    body = {"meter_number": number, "amount": amount}
    status, receipt = await admin.call(
        "POST", "/pos/vends", operator, json=body, headers=_keyed(key)
    )
    assert status == 201, receipt
    return dict(receipt)


async def _audit(admin: Admin, action: str) -> list[dict[str, Any]]:
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    status, page = await admin.call("GET", f"/audit?action={action}", root)
    assert status == 200
    return list(page["items"])


async def test_engineering_tokens_do_their_job_on_the_reference_meter(admin: Admin) -> None:
    """Clear tamper, a 5 000 W power limit and an 800 W phase-unbalance limit, in order.

    The tampered meter takes each (ACCEPT) and then is no longer tampered and applies the two
    limits as issued. Each answer is 201 with one token of its kind and no money (gross 0).
    """
    meter = EA11.reference_meter()
    meter.tamper()
    issued: list[tuple[str, dict[str, Any]]] = [
        ("e-1", {"kind": "clear_tamper"}),
        ("e-2", {"kind": "set_power_limit", "value": 5_000}),
        ("e-3", {"kind": "set_phase_unbalance_limit", "value": 800}),
    ]
    for key, body in issued:
        status, receipt = await _engineering(admin, key, meter_number=EA11.number, **body)
        assert status == 201, receipt
        assert (receipt["kind"], receipt["gross"]) == ("engineering", 0)
        (token,) = receipt["tokens"]
        assert token["kind"] == body["kind"]
        assert meter.enter(token["token"]).result is R.ACCEPT
    assert not meter.tampered
    assert meter.max_power_watts == 5_000
    assert meter.max_phase_unbalance_watts == 800


async def test_engineering_token_replays_and_is_audited_without_digits(admin: Admin) -> None:
    """The same key answers 200 with the same token; one audit entry, without the digits."""
    body = {"meter_number": EA11.number, "kind": "set_power_limit", "value": 5_000}
    status, first = await _engineering(admin, "limit-1", **body)
    assert status == 201
    status, again = await _engineering(admin, "limit-1", **body)
    assert status == 200
    assert (again["vend_id"], again["tokens"]) == (first["vend_id"], first["tokens"])
    (entry,) = await _audit(admin, "engineering.token")
    (token,) = first["tokens"]
    assert entry["entity"] == "meter"
    assert entry["after"] == {
        "vend_id": first["vend_id"],
        "meter": EA11.number,
        "kind": "set_power_limit",
        "value": 5_000,
        "tid": token["tid"],
    }
    assert token["token"] not in json.dumps(entry)


async def test_engineering_refusals(admin: Admin) -> None:
    """Refusals issue nothing: the audit log stays empty.

    No key: 400; a limit without a value, a value for clear_tamper: 400; an unknown meter:
    404; a POS manager: 403.
    """
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    body = {"meter_number": EA11.number, "kind": "clear_tamper"}
    status, problem = await admin.call("POST", "/engineering/tokens", sms, json=body)
    assert (status, problem["type"]) == (
        400,
        "https://vendgate.dev/problems/idempotency-key-required",
    )
    no_value = {"meter_number": EA11.number, "kind": "set_power_limit"}
    assert (await _engineering(admin, "bad-1", **no_value))[0] == 400
    with_value = {"meter_number": EA11.number, "kind": "clear_tamper", "value": 1}
    assert (await _engineering(admin, "bad-2", **with_value))[0] == 400
    unknown = {"meter_number": "00000000000", "kind": "clear_tamper"}
    assert (await _engineering(admin, "bad-3", **unknown))[0] == 404
    manager = await admin.token(AdminLevel.POS_MANAGER)
    status, _ = await admin.call(
        "POST", "/engineering/tokens", manager, json=body, headers=_keyed("bad-4")
    )
    assert status == 403
    assert await _audit(admin, "engineering.token") == []


async def test_ti_change_on_an_ea11_meter_then_credit_loads_under_the_new_key(
    admin: Admin,
) -> None:
    """TI 1 -> 2 on an EA11 meter; then a credit token made with the new key loads.

    The 4-token set, entered in order, is all accepted (the last completes the change).

    Credit: 11 500 c on BUS-FLAT = 10 000 c + 15 % VAT; 10 000 / 200 c/kWh = 50.0 kWh (500).
    """
    meter = EA11.reference_meter()
    status, change = await _key_change(admin, EA11.number, "kc-1", to_ti=2)
    assert status == 201, change
    assert change["kind"] == "key_change"
    assert [t["kind"] for t in change["tokens"]] == ["key_change"] * 4
    results = [meter.enter(t["token"]).result for t in change["tokens"]]
    assert results == [R.KCT1_ACCEPTED] * 3 + [R.KCT2_ACCEPTED]
    assert (meter.ti, meter.krn, meter.sgc) == (2, 1, EA11.sgc)
    sale = await _sell(admin, EA11.number, 11_500, "after-kc-1")
    assert [t["tenths"] for t in sale["tokens"]] == [500]
    assert meter.enter(sale["tokens"][0]["token"]).result is R.ACCEPT
    assert meter.credit_tenths() == 500
    status, replay = await _key_change(admin, EA11.number, "kc-1", to_ti=2)
    assert (status, replay["tokens"]) == (200, change["tokens"])


async def test_krn_change_to_the_groups_new_revision(admin: Admin) -> None:
    """SGC 201457 moves to key revision 2; an EA07 meter follows with a 2-token set.

    to_krn=3 is refused (409, nothing issued); to_krn=2 gives the set; then a sale loads on
    the re-keyed reference meter.

    The audit entry shows the key data before (KRN 1) and after (KRN 2), not the tokens.
    """
    await admin.core.keys.store(key_ref_for(EA07.sgc, 2), NEW_KEY)
    async with admin.core.uow() as uow:
        group = await uow.supply_groups.get(EA07.sgc)
        assert group is not None
        moved = replace(group, key_revision=2, key_ref=key_ref_for(EA07.sgc, 2))
        await uow.supply_groups.update(moved)
        await uow.commit()
    status, problem = await _key_change(admin, EA07.number, "krn-0", to_krn=3)
    assert (status, problem["type"]) == (
        409,
        "https://vendgate.dev/problems/key-revision-not-current",
    )
    meter = EA07.reference_meter()
    status, change = await _key_change(admin, EA07.number, "krn-1", to_krn=2)
    assert status == 201, change
    results = [meter.enter(t["token"]).result for t in change["tokens"]]
    assert results == [R.KCT1_ACCEPTED, R.KCT2_ACCEPTED]
    assert meter.krn == 2
    sale = await _sell(admin, EA07.number, 11_500, "after-krn")
    entry = meter.enter(sale["tokens"][-1]["token"])
    assert entry.result is R.ACCEPT
    assert meter.credit_tenths() == sale["credit_tenths"]
    (audited,) = await _audit(admin, "meter.key_change")
    key_data = {"sgc": EA07.sgc, "ti": 1, "base_date": 2014}
    assert audited["before"] == {**key_data, "krn": 1}
    assert audited["after"] == {
        **key_data,
        "krn": 2,
        "vend_id": change["vend_id"],
        "tokens": 2,
    }
    assert all(t["token"] not in json.dumps(audited) for t in change["tokens"])


async def test_key_change_refusals(admin: Admin) -> None:
    """Without a key: 400; an unconfigured SGC: 422 sts-data; an invalid TI: 400."""
    sms = await admin.token(AdminLevel.SMS_MANAGER)
    path = f"/meters/{EA11.number}/key-change"
    assert (await admin.call("POST", path, sms, json={"to_ti": 2}))[0] == 400
    status, problem = await _key_change(admin, EA11.number, "k-1", to_sgc="999999")
    assert (status, problem["type"]) == (422, "https://vendgate.dev/problems/sts-data")
    assert (await _key_change(admin, EA11.number, "k-2", to_ti=100))[0] == 400
    assert await _audit(admin, "meter.key_change") == []
