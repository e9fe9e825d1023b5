from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.admin_api.conftest import Admin
from tests.integration.admin_api.masterdata_support import BACKENDS, admin_on
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

PROBLEMS = "https://vendgate.dev/problems/"
BLOCK_TARIFF: dict[str, Any] = {
    "code": "RES-2027",
    "name": "Residential 2027",
    "blocks": [
        {"up_to_tenths": 500, "rate": "150"},
        {"up_to_tenths": None, "rate": "210.5"},
    ],
    "vat_rate": "0.16",
    "fixed_charge": {"amount": 2_000, "period": "month"},
    "service_charge": 100,
    "min_purchase": 500,
    "max_purchase": 200_000,
    "fbe_monthly_tenths": 250,
    "fbe_counts_toward_blocks": False,
}


@pytest.fixture(params=BACKENDS)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Admin]:
    """The admin API with the demo data, on SQLite and on PostgreSQL."""
    async with admin_on(request) as admin:
        yield admin


async def test_create_list_get_and_a_new_version_keeps_the_old_one(api: Admin) -> None:
    """Version 1 as sent; a new version is version 2; version 1 is unchanged; audited.

    The demo data has RES-BLOCK and BUS-FLAT (version 1 each), so the newest versions listed
    after the change are BUS-FLAT 1, RES-2027 2, RES-BLOCK 1 (by code).
    """
    sms = await api.token(AdminLevel.SMS_MANAGER)
    status, created = await api.call("POST", "/tariffs", sms, json=BLOCK_TARIFF)
    assert status == 201, created
    assert created == {**BLOCK_TARIFF, "version": 1, "utility": "electricity"}
    assert (await api.call("POST", "/tariffs", sms, json=BLOCK_TARIFF))[0] == 409
    flat = {k: v for k, v in BLOCK_TARIFF.items() if k != "code"}
    flat |= {"name": "Residential 2027 flat", "blocks": [{"rate": "199"}], "vat_rate": "0.15"}
    status, second = await api.call("POST", "/tariffs/RES-2027/versions", sms, json=flat)
    assert status == 201, second
    assert (second["version"], second["blocks"]) == (2, [{"up_to_tenths": None, "rate": "199"}])
    operator = await api.token(AdminLevel.OPERATOR)
    status, one = await api.call("GET", "/tariffs/RES-2027", operator)
    assert status == 200
    assert one["versions"] == [created, second]
    assert one["current"] == second
    _, newest = await api.call("GET", "/tariffs", operator)
    assert [(t["code"], t["version"]) for t in newest["items"]] == [
        ("BUS-FLAT", 1),
        ("RES-2027", 2),
        ("RES-BLOCK", 1),
    ]
    _, every = await api.call("GET", "/tariffs?code=RES-2&all_versions=true", operator)
    assert [t["version"] for t in every["items"]] == [1, 2]
    _, water = await api.call("GET", "/tariffs?utility=water", operator)
    assert water["items"] == []
    assert (await api.call("GET", "/tariffs/NO-SUCH", operator))[0] == 404
    unknown = await api.call("POST", "/tariffs/NO-SUCH/versions", sms, json=flat)
    assert (unknown[0], unknown[1]["type"]) == (404, PROBLEMS + "tariff-unknown")
    root = await api.token(AdminLevel.ADMINISTRATOR)
    _, audit = await api.call("GET", "/audit?entity=tariff", root)
    assert [(e["action"], e["before"], e["after"]) for e in audit["items"]] == [
        ("tariff.create", None, created),
        ("tariff.version", created, second),
    ]


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        (
            {"blocks": [{"up_to_tenths": 500, "rate": "1"}, {"up_to_tenths": 400, "rate": "2"}]},
            422,
            "tariff-invalid",
        ),
        ({"blocks": [{"up_to_tenths": 500, "rate": "1"}]}, 422, "tariff-invalid"),
        ({"min_purchase": 5_000, "max_purchase": 4_999}, 422, "tariff-invalid"),
        ({"vat_rate": "1.5"}, 400, "invalid-request"),
        ({"blocks": [{"rate": "-1"}]}, 400, "invalid-request"),
        ({"colour": "blue"}, 400, "invalid-request"),
    ],
)
async def test_invalid_tariffs_are_refused_and_nothing_is_stored(
    api: Admin, change: dict[str, Any], status: int, kind: str
) -> None:
    """Blocks not rising, no open last block, min > max: 422; field errors: 400; none stored."""
    sms = await api.token(AdminLevel.SMS_MANAGER)
    got, problem = await api.call("POST", "/tariffs", sms, json={**BLOCK_TARIFF, **change})
    assert (got, problem["type"]) == (status, PROBLEMS + kind)
    assert (await api.call("GET", "/tariffs/RES-2027", sms))[0] == 404


async def test_the_next_sale_uses_the_new_version(api: Admin) -> None:
    """BUS-FLAT v1 is 200 c/kWh: 11 500 c = 10 000 net + 15 % VAT buys 50.0 kWh (500 tenths).

    After version 2 at 400 c/kWh the same 11 500 c buys 10 000 / 400 = 25.0 kWh (250 tenths).
    """
    meter = DEMO_METERS[11].number  # BUS-FLAT
    operator = await api.token(AdminLevel.OPERATOR)
    sale = {"meter_number": meter, "amount": 11_500}
    headers = {"Idempotency-Key": "v1"}
    status, first = await api.call("POST", "/pos/vends", operator, json=sale, headers=headers)
    assert (status, [t["tenths"] for t in first["tokens"]]) == (201, [500])
    sms = await api.token(AdminLevel.SMS_MANAGER)
    version = {"name": "Business flat 2027", "blocks": [{"rate": "400"}], "min_purchase": 500}
    assert (await api.call("POST", "/tariffs/BUS-FLAT/versions", sms, json=version))[0] == 201
    headers = {"Idempotency-Key": "v2"}
    status, second = await api.call("POST", "/pos/vends", operator, json=sale, headers=headers)
    assert (status, [t["tenths"] for t in second["tokens"]]) == (201, [250])
