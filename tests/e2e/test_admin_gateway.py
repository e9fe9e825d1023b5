from datetime import UTC, datetime
from typing import Any

from gateway import keys
from tests.e2e.conftest import LiveGateway
from vending_core.service.admin_accounts import create_user
from vending_core.service.admin_records import AdminLevel, AdminUser
from vending_core.service.demo_data import DEMO_METERS

PASSWORD = "correct horse battery"


async def _json(gateway: LiveGateway, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with gateway.http.request(method, gateway.base_url + path, **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def test_the_gateway_mounts_the_admin_api_at_admin_v1(gateway: LiveGateway) -> None:
    """Through the real gateway: public OpenAPI 3.1, 401 without a token, login, a POS sale.

    The sale's token (demo meter 12, BUS-FLAT: 11 500 c incl. 15 % VAT = 50.0 kWh) loads on
    the STS reference meter.
    """
    core = gateway.app[keys.CORE]
    draft = AdminUser(
        username="till1",
        level=AdminLevel.OPERATOR,
        password_hash="",
        created_at=datetime.now(UTC),
        area="DEMO-POS",
    )
    await create_user(core, None, "cli", draft, PASSWORD)
    status, doc = await _json(gateway, "GET", "/admin/v1/openapi.json")
    assert (status, doc["openapi"]) == (200, "3.1.0")
    assert "/pos/vends" in doc["paths"]
    assert (await _json(gateway, "GET", "/admin/v1/me"))[0] == 401
    login = {"username": "till1", "password": PASSWORD}
    status, session = await _json(gateway, "POST", "/admin/v1/login", json=login)
    assert status == 200
    auth = {"Authorization": f"Bearer {session['token']}", "Idempotency-Key": "e2e-1"}
    meter = DEMO_METERS[11]
    body = {"meter_number": meter.number, "amount": 11_500}
    status, receipt = await _json(gateway, "POST", "/admin/v1/pos/vends", json=body, headers=auth)
    assert status == 201, receipt
    reference = meter.reference_meter()
    assert reference.enter(receipt["tokens"][0]["token"]).accepted
    assert reference.credit_tenths() == 500
