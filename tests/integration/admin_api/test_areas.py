"""A supply-group area confines a user to that group's meters; a vending-point area does not.

Demo meters 1-6 are on SGC 123456, meters 7-12 on SGC 201457.
"""

from __future__ import annotations

from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

INSIDE = DEMO_METERS[7].number  # SGC 201457
OUTSIDE = DEMO_METERS[0].number  # SGC 123456
OUT_OF_AREA = "https://vendgate.dev/problems/out-of-area"


async def test_meters_outside_a_supply_group_area_are_refused(admin: Admin) -> None:
    """An SMS manager with area 201457: path and body meters of 123456 get 403 out-of-area.

    The same requests for a meter of 201457 reach their handlers (200, or the handler's own
    answer); an unknown meter is the handler's 404, not 403.
    """
    await admin.user("sgc-manager", AdminLevel.SMS_MANAGER, area="201457")
    token = await admin.login("sgc-manager")
    status, body = await admin.call("GET", f"/meters/{OUTSIDE}", token)
    assert (status, body["type"]) == (403, OUT_OF_AREA)
    quote = {"meter_number": OUTSIDE, "amount": 1000}
    status, body = await admin.call("POST", "/pos/quotes", token, json=quote)
    assert (status, body["type"]) == (403, OUT_OF_AREA)
    status, body = await admin.call(
        "POST", f"/meters/{OUTSIDE}/block", token, json={"reason": "inspection"}
    )
    assert (status, body["type"]) == (403, OUT_OF_AREA)
    assert (await admin.call("GET", f"/meters/{INSIDE}", token))[0] == 200
    inside_quote = {"meter_number": INSIDE, "amount": 1000}
    assert (await admin.call("POST", "/pos/quotes", token, json=inside_quote))[0] == 200
    assert (await admin.call("GET", "/meters/00000000000", token))[0] == 404


async def test_vending_point_areas_and_administrators_are_not_confined(admin: Admin) -> None:
    """A vending-point area (DEMO-POS) and an administrator's SGC area confine nothing.

    Both reach a meter of another supply group.
    """
    operator = await admin.token(AdminLevel.OPERATOR)  # area DEMO-POS
    assert (await admin.call("GET", f"/meters/{OUTSIDE}", operator))[0] == 200
    await admin.user("sgc-root", AdminLevel.ADMINISTRATOR, area="201457")
    root = await admin.login("sgc-root")
    assert (await admin.call("GET", f"/meters/{OUTSIDE}", root))[0] == 200
