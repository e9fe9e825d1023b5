"""Maintenance requests through ``/admin/v1``: open, list, assign, resolve, and refusals.

Operators open and list requests; POS managers assign an engineer and resolve. The status
moves open -> assigned -> resolved (reassigning an assigned request is allowed); any other
move is 409 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from tests.integration.admin_api.conftest import Admin
from vending_core.service.admin_records import AdminLevel
from vending_core.service.demo_data import DEMO_METERS

METER, OTHER = DEMO_METERS[0], DEMO_METERS[1]
PROBLEM = "https://vendgate.dev/problems/"


async def _open(admin: Admin, number: str, description: str) -> dict[str, Any]:
    operator = await admin.token(AdminLevel.OPERATOR)
    body = {"meter_number": number, "description": description}
    status, item = await admin.call("POST", "/maintenance", operator, json=body)
    assert status == 201, item
    return dict(item)


async def _move(admin: Admin, item_id: int, action: str, **body: str) -> tuple[int, Any]:
    manager = await admin.token(AdminLevel.POS_MANAGER)
    return await admin.call("POST", f"/maintenance/{item_id}/{action}", manager, json=body)


async def test_request_goes_open_assigned_resolved_and_is_audited(admin: Admin) -> None:
    """An operator opens; a POS manager assigns Juma, reassigns to Wanjiru, resolves.

    The answers show each state; resolved_at is the clock's time (09:30, 30 minutes after
    the 09:00 start); the audit log has the open and each change with before and after.
    """
    item = await _open(admin, METER.number, "display blank after storm")
    assert {k: item[k] for k in ("meter_number", "status", "reported_by", "engineer")} == {
        "meter_number": METER.number,
        "status": "open",
        "reported_by": "operator",
        "engineer": None,
    }
    assert item["opened_at"] == "2026-11-25T09:00:00+00:00"
    status, assigned = await _move(admin, item["id"], "assign", engineer="Juma")
    assert (status, assigned["status"], assigned["engineer"]) == (200, "assigned", "Juma")
    status, again = await _move(admin, item["id"], "assign", engineer="Wanjiru")
    assert (status, again["status"], again["engineer"]) == (200, "assigned", "Wanjiru")
    admin.clock.advance(minutes=30)
    status, done = await _move(admin, item["id"], "resolve", solution="replaced the keypad")
    assert status == 200
    assert (done["status"], done["solution"], done["engineer"]) == (
        "resolved",
        "replaced the keypad",
        "Wanjiru",
    )
    assert done["resolved_at"] == "2026-11-25T09:30:00+00:00"
    root = await admin.token(AdminLevel.ADMINISTRATOR)
    _, page = await admin.call("GET", "/audit?entity=maintenance", root)
    entries = page["items"]
    assert [e["action"] for e in entries] == [
        "maintenance.open",
        "maintenance.assign",
        "maintenance.assign",
        "maintenance.resolve",
    ]
    assert {int(e["entity_id"]) for e in entries} == {item["id"]}
    assert entries[0]["after"]["description"] == "display blank after storm"
    assert entries[2]["before"] == {"status": "assigned", "engineer": "Juma", "solution": None}
    assert entries[3]["after"] == {
        "status": "resolved",
        "engineer": "Wanjiru",
        "solution": "replaced the keypad",
    }


async def test_invalid_transitions_are_409_and_change_nothing(admin: Admin) -> None:
    """Moves outside the table are 409 and leave the request as it was.

    Resolving an open request, and assigning or resolving a resolved one, are 409; an
    unknown request is 404; an operator may not assign (403).
    """
    item = await _open(admin, METER.number, "meter beeps")
    status, problem = await _move(admin, item["id"], "resolve", solution="nothing")
    assert (status, problem["type"]) == (409, PROBLEM + "maintenance-transition")
    operator = await admin.token(AdminLevel.OPERATOR)
    path = f"/maintenance/{item['id']}/assign"
    assert (await admin.call("POST", path, operator, json={"engineer": "Juma"}))[0] == 403
    assert (await _move(admin, item["id"], "assign", engineer="Juma"))[0] == 200
    assert (await _move(admin, item["id"], "resolve", solution="reset"))[0] == 200
    for action, body in (("assign", {"engineer": "Wanjiru"}), ("resolve", {"solution": "x"})):
        status, problem = await _move(admin, item["id"], action, **body)
        assert (status, problem["type"]) == (409, PROBLEM + "maintenance-transition")
    status, problem = await _move(admin, 999_999, "assign", engineer="Juma")
    assert (status, problem["type"]) == (404, PROBLEM + "maintenance-unknown")
    _, page = await admin.call("GET", "/maintenance", operator)
    (stored,) = page["items"]
    assert (stored["status"], stored["engineer"], stored["solution"]) == (
        "resolved",
        "Juma",
        "reset",
    )


async def test_opening_validates_the_meter_and_the_description(admin: Admin) -> None:
    """A blank description or an engineer name of spaces is 400; an unknown meter 404."""
    operator = await admin.token(AdminLevel.OPERATOR)
    blank = {"meter_number": METER.number, "description": "   "}
    assert (await admin.call("POST", "/maintenance", operator, json=blank))[0] == 400
    unknown = {"meter_number": "00000000000", "description": "no power"}
    status, problem = await admin.call("POST", "/maintenance", operator, json=unknown)
    assert (status, problem["type"]) == (404, PROBLEM + "meter-unknown")
    item = await _open(admin, METER.number, "no power")
    assert (await _move(admin, item["id"], "assign", engineer="  "))[0] == 400


async def test_list_filters_by_status_meter_and_engineer_and_pages(admin: Admin) -> None:
    """The list filters by status, meter and engineer and pages, oldest first.

    Three requests: 1 (METER, open), 2 (OTHER, assigned to Juma), 3 (METER, assigned to
    Wanjiru); an unknown meter in the filter is 404.
    """
    first = await _open(admin, METER.number, "one")
    second = await _open(admin, OTHER.number, "two")
    third = await _open(admin, METER.number, "three")
    await _move(admin, second["id"], "assign", engineer="Juma")
    await _move(admin, third["id"], "assign", engineer="Wanjiru")
    operator = await admin.token(AdminLevel.OPERATOR)

    async def ids(query: str) -> list[int]:
        status, page = await admin.call("GET", f"/maintenance?{query}", operator)
        assert status == 200, page
        return [item["id"] for item in page["items"]]

    assert await ids("") == [first["id"], second["id"], third["id"]]
    assert await ids("status=assigned") == [second["id"], third["id"]]
    assert await ids(f"meter={METER.number}") == [first["id"], third["id"]]
    assert await ids("engineer=Juma") == [second["id"]]
    assert await ids(f"meter={METER.number}&status=open") == [first["id"]]
    assert await ids("limit=1&offset=1") == [second["id"]]
    status, _ = await admin.call("GET", "/maintenance?meter=00000000000", operator)
    assert status == 404
